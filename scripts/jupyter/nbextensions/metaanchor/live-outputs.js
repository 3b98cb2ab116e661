// Notebook extension of `npm run notebook` (scripts/notebook.js puts scripts/jupyter on JUPYTER_PATH,
// which serves this file as nbextensions/metaanchor/live-outputs.js, and on JUPYTER_CONFIG_PATH,
// whose nbconfig/notebook.json loads it in every notebook page).
//
// A page opened (or reloaded) while its kernel runs a cell: Jupyter sends that page the cell's
// later outputs too, but Notebook 6 drops them, since the request came from another page
// ("received_unsolicited_message"). So a reopened notebook showed nothing running while a table
// trained. The status line of lib/notebook/status.ts names its cell (data-metaanchor-cell: a hash
// of the cell's source, the same as cellKey below); when such a status arrives here, the outputs of
// that request are shown in that cell from then on, live, and its prompt shows it running.
define(['base/js/namespace', 'base/js/events'], function (Jupyter, events) {
  'use strict';

  var CELL_KEY = /data-metaanchor-cell="([0-9a-z]+)"/;
  var STATUS = 'metaanchor-status';

  /** FNV-1a over the UTF-16 code units, base 36: lib/notebook/status.ts cellKey(). */
  function cellKey(source) {
    var h = 0x811c9dc5;
    for (var i = 0; i < source.length; i++) {
      h ^= source.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h.toString(36);
  }

  function html(output) {
    var data = (output && output.data) || {};
    var text = data['text/html'];
    return Array.isArray(text) ? text.join('') : text || '';
  }

  /** Request id -> the cell whose outputs it carries, for requests of other pages. */
  var adopted = {};

  function findCell(key) {
    var cells = Jupyter.notebook.get_cells();
    for (var i = 0; i < cells.length; i++) {
      if (cells[i].cell_type === 'code' && cellKey(cells[i].get_text()) === key) return cells[i];
    }
    return null;
  }

  function adopt(parentId, cell) {
    adopted[parentId] = cell;
    // The page's own copy of this cell's status (from the last save) is older than what follows.
    var oa = cell.output_area;
    var kept = oa.toJSON().filter(function (o) {
      return html(o).indexOf(STATUS) < 0;
    });
    oa.clear_output(false, true);
    oa.fromJSON(kept);
    cell.set_input_prompt('*');
    cell.element.addClass('metaanchor-running-elsewhere');
  }

  /**
   * An output of another page's request: shown in its cell when the request is adopted (or its
   * status names a cell of this page); returns false to leave the message to Notebook 6.
   */
  function route(msg) {
    var parentId = msg.parent_header && msg.parent_header.msg_id;
    if (!parentId) return false;
    var cell = adopted[parentId];
    if (!cell) {
      var m = CELL_KEY.exec(html(msg.content));
      cell = m && findCell(m[1]);
      if (!cell) return false;
      adopt(parentId, cell);
    }
    var oa = cell.output_area;
    var displayId = (msg.content.transient || {}).display_id;
    if (msg.header.msg_type === 'update_display_data' && !(displayId && oa._display_id_targets[displayId])) {
      // The first update this page sees of a display shown before it opened: show it as new.
      msg = $.extend(true, {}, msg);
      msg.header.msg_type = 'display_data';
    }
    oa.handle_output(msg);
    return true;
  }

  // Notebook 6 drops these messages when no request of this page is their parent (an
  // update_display_data of an unknown display without even a "received_unsolicited_message"), so
  // the kernel's output handlers are wrapped: the page's own requests go on as before.
  var OUTPUT_TYPES = ['stream', 'display_data', 'update_display_data', 'execute_result', 'error'];

  /** The adopted request is done (the kernel is idle after it): the cell is no longer running. */
  function finish(parentId) {
    var cell = adopted[parentId];
    if (!cell) return;
    cell.set_input_prompt();
    cell.element.removeClass('metaanchor-running-elsewhere');
    delete adopted[parentId];
  }

  function install(kernel) {
    if (!kernel || kernel.metaanchorLiveOutputs) return;
    kernel.metaanchorLiveOutputs = true;
    var status = kernel.get_iopub_handler('status');
    if (status) {
      kernel.register_iopub_handler('status', function (msg) {
        // Idle after this page's own requests (kernel_info, ...) says nothing about the cell.
        if (msg.content.execution_state === 'idle') finish(msg.parent_header && msg.parent_header.msg_id);
        return status(msg);
      });
    }
    OUTPUT_TYPES.forEach(function (type) {
      var original = kernel.get_iopub_handler(type);
      if (!original) return;
      kernel.register_iopub_handler(type, function (msg) {
        var parentId = msg.parent_header && msg.parent_header.msg_id;
        if (!kernel.get_output_callbacks_for_msg(parentId) && route(msg)) return;
        return original(msg);
      });
    });
  }

  // The page's kernel object may come before or after this extension loads: wrap it whenever one
  // shows up (each is wrapped once).
  function installCurrent(_event, data) {
    install(data && data.kernel);
    install(Jupyter.notebook && Jupyter.notebook.kernel);
  }
  installCurrent();
  events.on('kernel_created.Kernel kernel_created.Session kernel_connected.Kernel kernel_ready.Kernel', installCurrent);

  return { load_ipython_extension: installCurrent };
});
