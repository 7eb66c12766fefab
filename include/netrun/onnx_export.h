/* netrun/onnx_export.h - a trained model as an ONNX model (`netrun export`).
 *
 * The ONNX model (IR version 7, opset 13 of the default domain) computes
 * what nr_model_predict gives:
 *   input  `input`  float [N, C, H, W], N symbolic ("N"): the pixels scaled
 *          as netrun scales them, pixel (0..255) * scale + shift per channel
 *          (the model's info; written in the doc_string and metadata);
 *   output `probabilities` float [N, classes]: the softmax of the class
 *          scores, for a network trained with cross_entropy or ending in a
 *          softmax; for an mse network without a final softmax the output
 *          is named `outputs` and holds the raw values of the last layer.
 * Layers map to ONNX operators one to one (conv: Conv, maxpool: MaxPool,
 * avgpool: AveragePool, dense: Gemm with transB = 1 after a Flatten of an
 * image, flatten: Flatten, relu/sigmoid/tanh: the same, leaky_relu:
 * LeakyRelu, batchnorm: BatchNormalization with the running statistics,
 * residual: its block, its shortcut (1x1 Conv [+ BatchNormalization]) and
 * an Add; dropout: nothing (the identity in inference); repeat blocks are
 * already expanded in the graph). metadata_props: class_names (a JSON
 * array in output order), pixel_scale, pixel_shift (JSON arrays, per
 * channel), input_shape ([C, H, W]), outputs ("probabilities" or "raw"),
 * netrun_version, spec_name.
 */
#ifndef NETRUN_ONNX_EXPORT_H
#define NETRUN_ONNX_EXPORT_H

#include "netrun/error.h"
#include "netrun/model.h"
#include "netrun/onnx_writer.h"

enum { NR_ONNX_IR_VERSION = 7, NR_ONNX_OPSET = 13 };

/* The ModelProto of `model` appended to *out (an empty nr_pb; the caller
 * frees it with nr_pb_free, also on failure). The model is only read. */
int nr_onnx_encode(const nr_model *model, nr_pb *out, nr_error *err);

/* The same written to `path` atomically (netrun/fileio.h): the old file or
 * the whole new one, never a part. Errors name the path (NR_EXIT_INPUT for
 * an unwritable one). */
int nr_onnx_export(const nr_model *model, const char *path, nr_error *err);
/* Whether layers of this kind can be exported: the exporter writes it, or
 * its ops name an element-wise ONNX operator. */
bool nr_onnx_kind_exportable(nr_layer_kind kind);

#endif
