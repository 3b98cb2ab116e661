"""Server-side hooks of `npm run notebook` (scripts/notebook.js serve puts this folder on PYTHONPATH and
passes --FileContentsManager.pre_save_hook=notebook_hooks.fill_cell_ids).

Saved notebooks stay trusted: Notebook 6.4 creates cells without an `id`, and nbformat 5.5 adds the
missing ids while writing, after the server signed the notebook, so the signature no longer matched
and the notebook reopened "Not Trusted" with blank plots. Filling the ids before the server signs
avoids it (docs/DESIGN.md section 5).
"""
import secrets


def fill_cell_ids(model, **kwargs):
    """Give every cell of a notebook model an id (nbformat 4.5) before it is signed and written."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    nb = model["content"]
    if nb.get("nbformat") != 4:
        return
    if nb.get("nbformat_minor", 0) < 5:
        nb["nbformat_minor"] = 5
    taken = {cell.get("id") for cell in nb.get("cells", []) if cell.get("id")}
    for cell in nb.get("cells", []):
        if not cell.get("id"):
            new = secrets.token_hex(4)
            while new in taken:
                new = secrets.token_hex(4)
            taken.add(new)
            cell["id"] = new
