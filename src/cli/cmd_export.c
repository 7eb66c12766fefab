/* cli/cmd_export.c - `netrun export MODEL -o FILE.onnx`: a trained model (a
 * run folder or its weights.bin) as an ONNX model (netrun/onnx_export.h). */
#include <stdio.h>

#include "cli.h"
#include "netrun/error.h"
#include "netrun/model.h"
#include "netrun/onnx_export.h"

int cli_export(const cli_options *opts)
{
    if (opts->spec_count != 1) {
        fprintf(stderr, "netrun: error: export takes one model (a run folder or its "
                "weights.bin), %zu given; usage: netrun export MODEL -o FILE.onnx\n",
                opts->spec_count);
        return NR_EXIT_INPUT;
    }
    if (!opts->out_dir) {
        fprintf(stderr, "netrun: error: export needs -o FILE.onnx (the ONNX model to "
                "write); usage: netrun export MODEL -o FILE.onnx\n");
        return NR_EXIT_INPUT;
    }
    nr_error err = {0};
    nr_model model;
    /* one image per batch and one thread: export runs nothing */
    if (nr_model_open(opts->specs[0], 1, 1, &model, &err) != 0 ||
        nr_onnx_export(&model, opts->out_dir, &err) != 0) {
        nr_model_close(&model);
        fprintf(stderr, "%s\n", err.message);
        return err.status ? err.status : NR_EXIT_INTERNAL;
    }
    printf("%s: ONNX model (opset %d): input 'input' [N, %d, %d, %d], output '%s' [N, %zu]\n",
           opts->out_dir, NR_ONNX_OPSET, model.info.channels, model.info.height,
           model.info.width, model.probabilities ? "probabilities" : "outputs",
           nr_model_classes(&model));
    nr_model_close(&model);
    return 0;
}
