/* tests/mpi/net_ranks.c - trains a small net for a few SGD steps on
 * synthetic data, alone or as one of several processes (mpirun), and writes
 * (rank 0) everything a step produced, bit for bit: per step the batch's
 * loss and correct count, then the final parameters, buffers (batchnorm
 * running statistics), the last step's gradients and an evaluation
 * forward's logits. tests/mpi/ranks.sh compares the files of P processes x
 * T threads with one process of P*T threads (equal bits) and of two runs.
 *
 *   net_ranks THREADS OUT_FILE [LAYERS]
 *
 * LAYERS: "cnn" (default: conv, batchnorm -> relu -> maxpool fused, dropout,
 * a residual block with a batchnorm inside, two dense layers) or "mlp"
 * (dense layers from the input). Exit 0, or 1 with a message on stderr. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netrun/comm.h"
#include "netrun/graph.h"
#include "netrun/kernels.h"
#include "netrun/net.h"
#include "netrun/netspec.h"

static const char CNN[] =
    "network:\n  input: [2, 8, 8]\n  layers:\n"
    "    - conv: {filters: 6, size: 3, pad: 1}\n"
    "    - batchnorm\n    - relu\n    - maxpool: {size: 2}\n"
    "    - dropout: {rate: 0.2}\n"
    "    - residual:\n        layers:\n"
    "          - conv: {filters: 6, size: 3, pad: 1}\n          - batchnorm\n          - relu\n"
    "    - dense: {units: 12}\n    - relu\n"
    "    - dense: {units: 5}\n    - softmax\n";
static const char MLP[] =
    "network:\n  input: [1, 6, 6]\n  layers:\n"
    "    - dense: {units: 16}\n    - relu\n    - dense: {units: 5}\n    - softmax\n";

/* batch sizes of the steps: uneven splits, a batch smaller than the
 * threads of 2 x 2 (empty shares), the largest */
static const int BATCHES[] = {16, 13, 3, 16, 1, 9};
enum { STEPS = sizeof BATCHES / sizeof BATCHES[0], MAX_BATCH = 16 };

static int fail(const char *what, const nr_error *err)
{
    fprintf(stderr, "net_ranks: %s: %s\n", what, err ? err->message : "failed");
    return 1;
}

static int train(const nr_comm *comm, int threads, const char *out_path, const char *layers)
{
    char text[4096];
    snprintf(text, sizeof text,
             "data: {train: /x/Train, test: /x/Test}\n%strain: {loss: cross_entropy}\n",
             strcmp(layers, "mlp") == 0 ? MLP : CNN);
    nr_error err = {0};
    ns_doc *doc = NULL;
    nr_graph *graph = NULL;
    nr_net *net = NULL;
    int status = 1;
    if (ns_doc_parse_string(text, strlen(text), "t.yaml", "/tmp", &doc, &err) != 0 ||
        ns_doc_resolve(doc, &err) != 0 || nr_graph_build(doc, &graph, &err) != 0 ||
        nr_net_create(graph, MAX_BATCH, NR_BACKEND_BLAS, NR_LOSS_CROSS_ENTROPY, &net, &err) != 0) {
        fail("net", &err);
        goto done;
    }
    nr_net_init(net, 7);
    if (nr_net_set_threads(net, threads, &err) != 0 || nr_net_set_comm(net, comm, &err) != 0) {
        fail("threads", &err);
        goto done;
    }
    const size_t in_size = nr_shape_size(nr_net_input(net));
    const int classes = nr_net_classes(net);
    const size_t params = nr_net_param_count(net);
    float *x = malloc(MAX_BATCH * in_size * sizeof *x);
    float *momentum = calloc(params ? params : 1, sizeof *momentum);
    int32_t labels[MAX_BATCH];
    FILE *out = nr_comm_rank(comm) == 0 ? fopen(out_path, "wb") : NULL;
    /* every process stops alike (the passes below are collective) */
    if (nr_comm_any(comm, !x || !momentum || (nr_comm_rank(comm) == 0 && !out))) {
        fprintf(stderr, "net_ranks: cannot write %s or out of memory\n", out_path);
        if (out)
            fclose(out);
        free(x);
        free(momentum);
        goto done;
    }
    nr_rng data, dropout;
    nr_rng_seed(&data, 21, 4);
    nr_rng_seed(&dropout, 9, NR_RNG_STREAM_DROPOUT);
    nr_net_set_dropout_rng(net, dropout);
    const nr_sgd_params sgd = {.lr = 0.1f, .momentum = 0.9f};
    for (int step = 0; step < STEPS; step++) {
        const int n = BATCHES[step];
        /* the same data on every process: the same stream */
        for (size_t i = 0; i < (size_t)n * in_size; i++)
            x[i] = nr_rng_uniform(&data) * 2.0f - 1.0f;
        for (int i = 0; i < n; i++)
            labels[i] = (int32_t)nr_rng_below(&data, (uint32_t)classes);
        nr_net_zero_grads(net);
        nr_net_forward(net, x, n, true);
        int correct = 0;
        float loss = nr_net_loss(net, labels, n, true, &correct, NULL);
        nr_net_backward(net, x, n);
        nr_sgd_step(params, nr_net_params(net), nr_net_grads(net), momentum, &sgd, step + 1);
        if (out) {
            fwrite(&loss, sizeof loss, 1, out);
            fwrite(&correct, sizeof correct, 1, out);
        }
    }
    const float *logits = nr_net_forward(net, x, MAX_BATCH, false);
    if (out) {
        fwrite(nr_net_params(net), sizeof(float), params, out);
        fwrite(nr_net_buffers(net), sizeof(float), nr_net_buffer_count(net), out);
        fwrite(nr_net_grads(net), sizeof(float), params, out);
        fwrite(logits, sizeof(float), (size_t)MAX_BATCH * classes, out);
        status = fclose(out) == 0 ? 0 : 1;
    } else {
        status = 0;
    }
    if (nr_comm_rank(comm) == 0)
        printf("net_ranks: %d process(es) x %d thread(s) = %d threads, %zu parameters\n",
               nr_comm_size(comm), nr_net_threads(net), nr_net_global_threads(net), params);
    free(x);
    free(momentum);
done:
    nr_net_free(net);
    nr_graph_free(graph);
    ns_doc_free(doc);
    return status;
}

int main(int argc, char **argv)
{
    nr_error err = {0};
    nr_comm *comm = NULL;
    if (nr_comm_open(&argc, &argv, &comm, &err) != 0)
        return fail("comm", &err);
    if (argc < 3 || argc > 4 || atoi(argv[1]) < 1) {
        fprintf(stderr, "usage: net_ranks THREADS OUT_FILE [cnn|mlp]\n");
        nr_comm_close(comm);
        return 2;
    }
    int status = train(comm, atoi(argv[1]), argv[2], argc == 4 ? argv[3] : "cnn");
    /* every process stops alike */
    if (nr_comm_any(comm, status != 0))
        status = status ? status : 1;
    nr_comm_close(comm);
    return status;
}
