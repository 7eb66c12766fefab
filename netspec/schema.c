/* netspec/schema.c - THE table of the spec language (v1). Every key the
 * language knows is one line below; resolve.c, set.c and the REFERENCE.md
 * check in tests/test_netspec.c all walk these tables. Keep REFERENCE.md in
 * step when changing a line here. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "schema.h"

#define INT_RANGE(lo, hi) .type = NS_T_INT, .imin = (lo), .imax = (hi)
#define FLOAT_RANGE(lo, hi) .type = NS_T_FLOAT, .fmin = (lo), .fmax = (hi)
#define OPEN_LOW .fmin_open = true
#define OPEN_HIGH .fmax_open = true
#define BOOL_TYPE .type = NS_T_BOOL
#define ENUM_OF(list) .type = NS_T_ENUM, .values = (list)
#define MAP_OF(table) .type = NS_T_MAP, .keys = (table)
#define CHOICE_OF(table, what) .type = NS_T_CHOICE, .variants = (table), .noun = (what)
#define LAYER_LIST .type = NS_T_LAYERS, .variants = ns_layer_variants, .noun = "layer", \
                   .min_items = 1, .max_items = 1000
#define REQUIRED .need = NS_REQUIRED
#define OPTIONAL .need = NS_OPTIONAL
#define DEFAULT(text) .need = NS_DEFAULT, .def = (text)
#define DERIVED(text, fn) .need = NS_DERIVED, .def = (text), .derive = (fn)
#define END { .name = NULL }

static const char *const class_weight_values[] = { "none", "balanced", NULL };

static const char *const init_values[] = {
    "auto", "he_normal", "he_uniform", "glorot_normal", "glorot_uniform", NULL
};
static const char *const loss_values[] = { "cross_entropy", "mse", NULL };
static const char *const backend_values[] = { "blas", "reference", NULL };
static const char *const shortcut_values[] = { "auto", "identity", "projection", NULL };

/* ---- layers ---- */

static const ns_key conv_params[] = {
    { .name = "filters", INT_RANGE(1, 65536), REQUIRED, .doc = "number of filters (output channels)" },
    { .name = "size", INT_RANGE(1, 64), DEFAULT("3"), .doc = "kernel height and width" },
    { .name = "stride", INT_RANGE(1, 64), DEFAULT("1"), .doc = "step between windows" },
    { .name = "pad", INT_RANGE(0, 64), DEFAULT("0"), .doc = "zero padding added on each side" },
    { .name = "bias", BOOL_TYPE, DEFAULT("true"), .doc = "learn one bias per filter" },
    { .name = "init", ENUM_OF(init_values), DEFAULT("auto"), .doc = "weight initialization; auto lets the engine choose" },
    { .name = "freeze", BOOL_TYPE, DEFAULT("false"), .doc = "keep its parameters fixed during training (fine-tuning)" },
    { .name = "fresh", BOOL_TYPE, DEFAULT("false"), .doc = "with train.init_from: not loaded, starts from its own initialization" },
    END
};

static const ns_key maxpool_params[] = {
    { .name = "size", INT_RANGE(1, 64), DEFAULT("2"), .doc = "window height and width" },
    { .name = "stride", INT_RANGE(1, 64), DEFAULT("2"), .doc = "step between windows" },
    END
};

static const ns_key avgpool_params[] = {
    { .name = "size", INT_RANGE(1, 64), DEFAULT("2"), .doc = "window height and width" },
    { .name = "stride", INT_RANGE(1, 64), DEFAULT("2"), .doc = "step between windows" },
    END
};

static const ns_key dense_params[] = {
    { .name = "units", INT_RANGE(1, 1048576), REQUIRED, .doc = "number of outputs" },
    { .name = "bias", BOOL_TYPE, DEFAULT("true"), .doc = "learn one bias per output" },
    { .name = "init", ENUM_OF(init_values), DEFAULT("auto"), .doc = "weight initialization; auto lets the engine choose" },
    { .name = "freeze", BOOL_TYPE, DEFAULT("false"), .doc = "keep its parameters fixed during training (fine-tuning)" },
    { .name = "fresh", BOOL_TYPE, DEFAULT("false"), .doc = "with train.init_from: not loaded, starts from its own initialization" },
    END
};

static const ns_key leaky_relu_params[] = {
    { .name = "slope", FLOAT_RANGE(0, 1), DEFAULT("0.01"), .doc = "slope for negative inputs" },
    END
};

static const ns_key dropout_params[] = {
    { .name = "rate", FLOAT_RANGE(0, 1), OPEN_HIGH, DEFAULT("0.5"), .doc = "probability of zeroing an activation while training" },
    END
};

static const ns_key batchnorm_params[] = {
    { .name = "momentum", FLOAT_RANGE(0, 1), OPEN_LOW, DEFAULT("0.1"), .doc = "weight of the current batch in the running mean/variance" },
    { .name = "eps", FLOAT_RANGE(0, 1), OPEN_LOW, DEFAULT("1e-5"), .doc = "added to the variance before the square root" },
    { .name = "freeze", BOOL_TYPE, DEFAULT("false"), .doc = "keep gamma, beta and the running statistics fixed (fine-tuning)" },
    { .name = "fresh", BOOL_TYPE, DEFAULT("false"), .doc = "with train.init_from: not loaded, starts from its own initialization" },
    END
};

static const ns_key residual_params[] = {
    { .name = "layers", LAYER_LIST, REQUIRED, .doc = "the block's layers; their output is added to the shortcut" },
    { .name = "shortcut", ENUM_OF(shortcut_values), DEFAULT("auto"), .doc = "auto = identity when the shapes match, else projection" },
    { .name = "projection_batchnorm", BOOL_TYPE, DEFAULT("false"), .doc = "batch-normalize the projection shortcut" },
    END
};

static const ns_key repeat_params[] = {
    { .name = "times", INT_RANGE(1, 1000), REQUIRED, .doc = "how many times the layers are repeated" },
    { .name = "layers", LAYER_LIST, REQUIRED, .doc = "the layers to repeat (each copy has its own weights)" },
    END
};

const ns_variant ns_layer_variants[] = {
    { "conv", conv_params, "2-D convolution" },
    { "maxpool", maxpool_params, "max pooling" },
    { "avgpool", avgpool_params, "average pooling" },
    { "dense", dense_params, "fully connected layer (flattens its input)" },
    { "flatten", NULL, "reshape to a vector" },
    { "relu", NULL, "max(0, x)" },
    { "sigmoid", NULL, "1 / (1 + exp(-x))" },
    { "tanh", NULL, "hyperbolic tangent" },
    { "softmax", NULL, "normalize to probabilities" },
    { "leaky_relu", leaky_relu_params, "x for x > 0, slope * x otherwise" },
    { "dropout", dropout_params, "zero random activations while training" },
    { "batchnorm", batchnorm_params, "batch normalization" },
    { "residual", residual_params, "a block of layers plus a shortcut around it" },
    { "repeat", repeat_params, "the same layers several times" },
    { NULL, NULL, NULL }
};

/* The same names, for the engine's registry (see netspec.h). The tests check
 * that both lists agree. */
const char *const ns_layer_kind_names[] = {
    "conv", "maxpool", "avgpool", "dense", "flatten", "relu", "sigmoid", "tanh", "softmax",
    "leaky_relu", "dropout", "batchnorm", "residual", "repeat", NULL
};

/* ---- optimizers ---- */

static const ns_key sgd_params[] = {
    { .name = "lr", FLOAT_RANGE(0, 10), OPEN_LOW, DEFAULT("0.01"), .doc = "learning rate" },
    { .name = "momentum", FLOAT_RANGE(0, 1), OPEN_HIGH, DEFAULT("0"), .doc = "momentum factor; 0 = plain SGD" },
    { .name = "nesterov", BOOL_TYPE, DEFAULT("false"), .doc = "use Nesterov momentum" },
    { .name = "weight_decay", FLOAT_RANGE(0, 1), DEFAULT("0"), .doc = "L2 penalty: weight_decay * w is added to the gradient" },
    END
};

static const ns_key adam_params[] = {
    { .name = "lr", FLOAT_RANGE(0, 10), OPEN_LOW, DEFAULT("0.001"), .doc = "learning rate" },
    { .name = "beta1", FLOAT_RANGE(0, 1), OPEN_HIGH, DEFAULT("0.9"), .doc = "decay rate of the first-moment estimate" },
    { .name = "beta2", FLOAT_RANGE(0, 1), OPEN_HIGH, DEFAULT("0.999"), .doc = "decay rate of the second-moment estimate" },
    { .name = "eps", FLOAT_RANGE(0, 1), OPEN_LOW, DEFAULT("1e-8"), .doc = "added to the denominator" },
    { .name = "weight_decay", FLOAT_RANGE(0, 1), DEFAULT("0"), .doc = "L2 penalty: weight_decay * w is added to the gradient" },
    END
};

static const ns_key adamw_params[] = {
    { .name = "lr", FLOAT_RANGE(0, 10), OPEN_LOW, DEFAULT("0.001"), .doc = "learning rate" },
    { .name = "beta1", FLOAT_RANGE(0, 1), OPEN_HIGH, DEFAULT("0.9"), .doc = "decay rate of the first-moment estimate" },
    { .name = "beta2", FLOAT_RANGE(0, 1), OPEN_HIGH, DEFAULT("0.999"), .doc = "decay rate of the second-moment estimate" },
    { .name = "eps", FLOAT_RANGE(0, 1), OPEN_LOW, DEFAULT("1e-8"), .doc = "added to the denominator" },
    { .name = "weight_decay", FLOAT_RANGE(0, 1), DEFAULT("0.01"), .doc = "decoupled weight decay: w -= lr * weight_decay * w" },
    END
};

static const ns_variant optimizer_variants[] = {
    { "sgd", sgd_params, "stochastic gradient descent, optionally with (Nesterov) momentum" },
    { "adam", adam_params, "Adam" },
    { "adamw", adamw_params, "Adam with decoupled weight decay" },
    { NULL, NULL, NULL }
};

/* ---- learning-rate schedules ---- */

static const char *const plateau_monitor_values[] = {
    "val_cost", "val_acc", "train_cost", "train_acc", NULL
};
static const char *const stopping_monitor_values[] = { "val_cost", "val_acc", NULL };

static const ns_key step_params[] = {
    { .name = "step_size", INT_RANGE(1, 100000), DEFAULT("10"), .doc = "epochs between decays" },
    { .name = "gamma", FLOAT_RANGE(0, 1), OPEN_LOW, DEFAULT("0.1"), .doc = "factor applied at each decay" },
    END
};

static const ns_key multistep_params[] = {
    { .name = "milestones", .type = NS_T_INT_LIST, .imin = 1, .imax = 100000, .min_items = 1, .max_items = 64,
      REQUIRED, .doc = "epochs after which the lr is multiplied by gamma" },
    { .name = "gamma", FLOAT_RANGE(0, 1), OPEN_LOW, DEFAULT("0.1"), .doc = "factor applied at each milestone" },
    END
};

static const ns_key exponential_params[] = {
    { .name = "gamma", FLOAT_RANGE(0, 1), OPEN_LOW, DEFAULT("0.95"), .doc = "factor applied every epoch" },
    END
};

static const ns_key cosine_params[] = {
    { .name = "min_lr", FLOAT_RANGE(0, 10), DEFAULT("0"), .doc = "lr at the end of training" },
    { .name = "warmup_epochs", INT_RANGE(0, 100000), DEFAULT("0"), .doc = "epochs of linear warmup from lr/10 before the cosine" },
    END
};

static const ns_key plateau_params[] = {
    { .name = "monitor", ENUM_OF(plateau_monitor_values), DEFAULT("val_cost"), .doc = "the per-epoch value watched (val_* needs train.validation)" },
    { .name = "factor", FLOAT_RANGE(0, 1), OPEN_LOW, OPEN_HIGH, DEFAULT("0.1"), .doc = "factor applied when the value stops improving" },
    { .name = "patience", INT_RANGE(0, 100000), DEFAULT("2"), .doc = "epochs without improvement tolerated before a decay" },
    { .name = "min_delta", FLOAT_RANGE(0, 1000000), DEFAULT("0"), .doc = "smallest change that counts as an improvement" },
    { .name = "min_lr", FLOAT_RANGE(0, 10), DEFAULT("0"), .doc = "the lr never goes below this" },
    END
};

static const ns_key one_cycle_params[] = {
    { .name = "pct_start", FLOAT_RANGE(0, 1), OPEN_LOW, OPEN_HIGH, DEFAULT("0.3"), .doc = "fraction of training spent raising the lr" },
    { .name = "div_factor", FLOAT_RANGE(1, 1000000), DEFAULT("25"), .doc = "the lr starts at the optimizer's lr / div_factor" },
    { .name = "final_div_factor", FLOAT_RANGE(1, 1e9), DEFAULT("1e4"), .doc = "the lr ends at the start lr / final_div_factor" },
    END
};

static const ns_variant schedule_variants[] = {
    { "constant", NULL, "the optimizer's lr throughout" },
    { "step", step_params, "multiply by gamma every step_size epochs" },
    { "multistep", multistep_params, "multiply by gamma after each milestone epoch" },
    { "exponential", exponential_params, "multiply by gamma every epoch" },
    { "cosine", cosine_params, "cosine annealing to min_lr, with optional linear warmup" },
    { "reduce_on_plateau", plateau_params, "multiply by factor when a monitored value stops improving" },
    { "one_cycle", one_cycle_params, "one cycle: up to the optimizer's lr, then down (per batch)" },
    { NULL, NULL, NULL }
};

/* ---- regularization and augmentation ---- */

static const ns_key early_stopping_keys[] = {
    { .name = "patience", INT_RANGE(0, 100000), DEFAULT("0"), .doc = "stop after this many epochs without improvement; 0 = never stop early" },
    { .name = "monitor", ENUM_OF(stopping_monitor_values), DEFAULT("val_cost"), .doc = "the validation value watched (needs train.validation)" },
    { .name = "min_delta", FLOAT_RANGE(0, 1000000), DEFAULT("0"), .doc = "smallest change that counts as an improvement" },
    { .name = "restore_best", BOOL_TYPE, DEFAULT("true"), .doc = "end with the weights of the best epoch" },
    END
};

static const ns_key validation_keys[] = {
    { .name = "fraction", FLOAT_RANGE(0, 0.9), DEFAULT("0"), .doc = "share of Train held out (stratified, seeded) for validation; 0 = none" },
    END
};

static const ns_key shift_keys[] = {
    { .name = "pixels", INT_RANGE(0, 64), DEFAULT("0"), .doc = "largest translation per axis; 0 = off" },
    { .name = "p", FLOAT_RANGE(0, 1), DEFAULT("0.5"), .doc = "probability of applying it to an image" },
    END
};

static const ns_key rotate_keys[] = {
    { .name = "degrees", FLOAT_RANGE(0, 180), DEFAULT("0"), .doc = "largest rotation either way; 0 = off" },
    { .name = "p", FLOAT_RANGE(0, 1), DEFAULT("0.5"), .doc = "probability of applying it to an image" },
    END
};

static const ns_key scale_keys[] = {
    { .name = "min", FLOAT_RANGE(0.1, 1), DEFAULT("1"), .doc = "smallest zoom factor" },
    { .name = "max", FLOAT_RANGE(1, 10), DEFAULT("1"), .doc = "largest zoom factor; min = max = 1 is off" },
    { .name = "p", FLOAT_RANGE(0, 1), DEFAULT("0.5"), .doc = "probability of applying it to an image" },
    END
};

static const ns_key elastic_keys[] = {
    { .name = "alpha", FLOAT_RANGE(0, 1000), DEFAULT("0"), .doc = "displacement strength in pixels; 0 = off" },
    { .name = "sigma", FLOAT_RANGE(0, 100), OPEN_LOW, DEFAULT("4"), .doc = "smoothness of the displacement field (Gaussian sigma, pixels)" },
    { .name = "p", FLOAT_RANGE(0, 1), DEFAULT("0.5"), .doc = "probability of applying it to an image" },
    END
};

static const ns_key noise_keys[] = {
    { .name = "std", FLOAT_RANGE(0, 1), DEFAULT("0"), .doc = "standard deviation of Gaussian noise (pixels in 0..1); 0 = off" },
    { .name = "p", FLOAT_RANGE(0, 1), DEFAULT("0.5"), .doc = "probability of applying it to an image" },
    END
};

static const ns_key augment_keys[] = {
    { .name = "shift", MAP_OF(shift_keys), DEFAULT("{}"), .doc = "random translation" },
    { .name = "rotate", MAP_OF(rotate_keys), DEFAULT("{}"), .doc = "random rotation about the centre" },
    { .name = "scale", MAP_OF(scale_keys), DEFAULT("{}"), .doc = "random zoom about the centre" },
    { .name = "elastic", MAP_OF(elastic_keys), DEFAULT("{}"), .doc = "elastic deformation (Simard et al. 2003)" },
    { .name = "noise", MAP_OF(noise_keys), DEFAULT("{}"), .doc = "additive Gaussian noise" },
    END
};

/* ---- top level ---- */

#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"

/* name: the spec file's base name without .yaml/.yml when that is a valid
 * name, else "spec" (in-memory text, odd file names). */
static void derive_name(const ns_doc *doc, char *buf, size_t size)
{
    const char *base = strrchr(doc->path, '/');
    base = base ? base + 1 : doc->path;
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".yaml") == 0)
        n -= 5;
    else if (n > 4 && strcmp(base + n - 4, ".yml") == 0)
        n -= 4;
    bool ok = n >= 1 && n <= 64 && strspn(base, NAME_CHARS) >= n &&
              !(n == 1 && base[0] == '.') && !(n == 2 && base[0] == '.' && base[1] == '.');
    snprintf(buf, size, "%.*s", ok ? (int)n : 4, ok ? base : "spec");
}

static const char *const fit_values[] = { "stretch", "crop", "pad", NULL };
static const char *const channels_values[] = { "1", "3", NULL };
static const char *const alpha_values[] = { "black", "white", NULL };
static const char *const normalize_values[] = { "none", "scale", "standardize", NULL };

static const ns_key data_keys[] = {
    { .name = "train", .type = NS_T_PATH, REQUIRED, .doc = "training images: a folder with one folder of images (PNG, JPEG) per class" },
    { .name = "test", .type = NS_T_PATH, OPTIONAL, .doc = "test images, laid out like train; absent = data.test_fraction of Train" },
    { .name = "test_fraction", FLOAT_RANGE(0, 1), OPEN_LOW, OPEN_HIGH, OPTIONAL, .doc = "without data.test: share of Train held out (stratified, seeded) as the test set" },
    { .name = "cache", BOOL_TYPE, DEFAULT("true"), .doc = "keep a decoded cache next to the data" },
    { .name = "size", .type = NS_T_INT_LIST, .imin = 1, .imax = 16384, .min_items = 2, .max_items = 2, OPTIONAL,
      .doc = "[height, width] every image is resized to; absent = images must share one size" },
    { .name = "fit", ENUM_OF(fit_values), DEFAULT("stretch"), .doc = "how data.size treats the aspect ratio: stretch, crop (cover, centre cut) or pad (fit inside, black border)" },
    { .name = "channels", ENUM_OF(channels_values), OPTIONAL, .doc = "1 (gray) or 3 (RGB) every image is converted to; absent = images must share one channel count" },
    { .name = "alpha", ENUM_OF(alpha_values), DEFAULT("black"), .doc = "what transparent pixels are composited on before alpha is dropped" },
    { .name = "normalize", ENUM_OF(normalize_values), DEFAULT("scale"), .doc = "network input: none = pixel (0..255), scale = pixel / 255, standardize = (pixel - mean) / std per channel" },
    { .name = "mean", .type = NS_T_FLOAT_LIST, .fmin = 0, .fmax = 255, .min_items = 1, .max_items = 3, OPTIONAL,
      .doc = "with standardize: per-channel pixel mean (0..255); absent = measured on the training images" },
    { .name = "std", .type = NS_T_FLOAT_LIST, .fmin = 0, .fmax = 255, .fmin_open = true, .min_items = 1, .max_items = 3, OPTIONAL,
      .doc = "with standardize: per-channel pixel standard deviation; absent = measured on the training images" },
    END
};

static const ns_key network_keys[] = {
    { .name = "input", .type = NS_T_INT_LIST, .imin = 1, .imax = 65536, .min_items = 3, .max_items = 3, OPTIONAL,
      .doc = "[channels, height, width] of one image; absent = taken from the data" },
    { .name = "layers", LAYER_LIST, REQUIRED, .doc = "the layers, in order" },
    END
};

static const ns_key train_keys[] = {
    { .name = "loss", ENUM_OF(loss_values), DEFAULT("cross_entropy"), .doc = "loss function" },
    { .name = "optimizer", CHOICE_OF(optimizer_variants, "optimizer"), DEFAULT("sgd"), .doc = "the optimizer and its settings" },
    { .name = "batch_size", INT_RANGE(1, 65536), DEFAULT("64"), .doc = "images per training step" },
    { .name = "epochs", INT_RANGE(1, 100000), DEFAULT("10"), .doc = "passes over the training set" },
    { .name = "shuffle", BOOL_TYPE, DEFAULT("true"), .doc = "shuffle the training set every epoch" },
    { .name = "schedule", CHOICE_OF(schedule_variants, "schedule"), DEFAULT("constant"), .doc = "how the learning rate changes during training" },
    { .name = "label_smoothing", FLOAT_RANGE(0, 1), OPEN_HIGH, DEFAULT("0"), .doc = "cross-entropy targets (1 - s) one-hot + s / classes" },
    { .name = "class_weights", .type = NS_T_NAMED_NUMBERS, .values = class_weight_values, .fmin = 0, .fmax = 1e6, OPEN_LOW, DEFAULT("none"), .doc = "each training example's loss times its class's weight: none, balanced (images / (classes x class images)) or {class: weight} (unnamed classes 1)" },
    { .name = "validation", MAP_OF(validation_keys), DEFAULT("{}"), .doc = "a validation split of Train, evaluated every epoch" },
    { .name = "early_stopping", MAP_OF(early_stopping_keys), DEFAULT("{}"), .doc = "stop when the validation value stops improving" },
    { .name = "augment", MAP_OF(augment_keys), DEFAULT("{}"), .doc = "random transforms of training images (training only)" },
    { .name = "prefetch", BOOL_TYPE, DEFAULT("true"), .doc = "gather and augment the next batch on a thread of its own while the current one computes (the same results either way)" },
    { .name = "init_from", .type = NS_T_PATH, OPTIONAL, .doc = "start from the weights of a trained model (a run folder or its weights.bin); absent = fresh weights" },
    END
};

static const ns_key top_keys[] = {
    { .name = "name", .type = NS_T_STRING, .imin = 1, .imax = 64,
      .charset = NAME_CHARS, .charset_doc = "A-Z a-z 0-9 _ . -",
      DERIVED("the spec file's name without .yaml/.yml", derive_name),
      .doc = "name of the run (run folder, report titles)" },
    { .name = "description", .type = NS_T_STRING, DEFAULT(""), .doc = "free text for the report" },
    { .name = "seed", INT_RANGE(0, 4294967295LL), DEFAULT("1"), .doc = "random seed (weights, shuffling, dropout)" },
    { .name = "threads", INT_RANGE(0, 256), DEFAULT("0"), .doc = "worker threads; 0 = all online cores" },
    { .name = "backend", ENUM_OF(backend_values), DEFAULT("blas"), .doc = "kernels: blas (OpenBLAS) or reference (plain loops, the tests' oracle)" },
    { .name = "data", MAP_OF(data_keys), REQUIRED, .doc = "the images" },
    { .name = "network", MAP_OF(network_keys), REQUIRED, .doc = "the model" },
    { .name = "train", MAP_OF(train_keys), DEFAULT("{}"), .doc = "how to train" },
    END
};

const ns_key ns_schema_root = {
    .name = "", MAP_OF(top_keys), REQUIRED, .doc = "a netrun spec"
};

/* ---- helpers ---- */

const ns_key *ns_schema_key(const ns_key *keys, const char *name)
{
    for (; keys && keys->name; keys++)
        if (strcmp(keys->name, name) == 0)
            return keys;
    return NULL;
}

const ns_variant *ns_schema_variant(const ns_variant *variants, const char *name)
{
    for (; variants && variants->name; variants++)
        if (strcmp(variants->name, name) == 0)
            return variants;
    return NULL;
}

const char *ns_schema_type_name(ns_type type)
{
    switch (type) {
    case NS_T_INT: return "int";
    case NS_T_FLOAT: return "float";
    case NS_T_BOOL: return "bool";
    case NS_T_STRING: return "string";
    case NS_T_ENUM: return "enum";
    case NS_T_PATH: return "path";
    case NS_T_INT_LIST: return "int-list";
    case NS_T_FLOAT_LIST: return "float-list";
    case NS_T_MAP: return "map";
    case NS_T_CHOICE: return "choice";
    case NS_T_LAYERS: return "layer list";
    case NS_T_NAMED_NUMBERS: return "enum or map";
    }
    return "?";
}

/* Appends to buf at *o, never overflowing. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void put(char *buf, size_t size, size_t *o, const char *fmt, ...)
{
    if (*o >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *o, size - *o, fmt, ap);
    va_end(ap);
    if (n > 0)
        *o = (size_t)n < size - *o ? *o + (size_t)n : size - 1;
}

static void put_float_range(const ns_key *k, char *buf, size_t size, size_t *o)
{
    if (!k->fmin_open && !k->fmax_open)
        put(buf, size, o, "from %g to %g", k->fmin, k->fmax);
    else
        put(buf, size, o, "%s %g and %s %g", k->fmin_open ? ">" : ">=", k->fmin,
            k->fmax_open ? "<" : "<=", k->fmax);
}

const char *ns_schema_describe(const ns_key *k, bool article, char *buf, size_t size)
{
    size_t o = 0;
    if (!size)
        return buf;
    buf[0] = '\0';
    switch (k->type) {
    case NS_T_INT:
        put(buf, size, &o, "%sinteger from %lld to %lld", article ? "an " : "", k->imin, k->imax);
        break;
    case NS_T_FLOAT:
        put(buf, size, &o, "%snumber ", article ? "a " : "");
        put_float_range(k, buf, size, &o);
        break;
    case NS_T_BOOL:
        put(buf, size, &o, "true or false");
        break;
    case NS_T_STRING:
        if (k->charset)
            put(buf, size, &o, "%sname of %lld to %lld characters from %s", article ? "a " : "",
                k->imin, k->imax, k->charset_doc);
        else
            put(buf, size, &o, "%sstring", article ? "a " : "");
        break;
    case NS_T_ENUM:
        put(buf, size, &o, "one of: ");
        for (const char *const *v = k->values; *v; v++)
            put(buf, size, &o, "%s%s", v == k->values ? "" : ", ", *v);
        break;
    case NS_T_PATH:
        put(buf, size, &o, "%spath", article ? "a " : "");
        break;
    case NS_T_INT_LIST:
        if (k->min_items == k->max_items)
            put(buf, size, &o, "%slist of %zu integers", article ? "a " : "", k->min_items);
        else
            put(buf, size, &o, "%slist of %zu to %zu integers", article ? "a " : "",
                k->min_items, k->max_items);
        put(buf, size, &o, " from %lld to %lld", k->imin, k->imax);
        break;
    case NS_T_FLOAT_LIST:
        if (k->min_items == k->max_items)
            put(buf, size, &o, "%slist of %zu numbers", article ? "a " : "", k->min_items);
        else
            put(buf, size, &o, "%slist of %zu to %zu numbers", article ? "a " : "",
                k->min_items, k->max_items);
        put(buf, size, &o, " each ");
        put_float_range(k, buf, size, &o);
        break;
    case NS_T_MAP:
        put(buf, size, &o, "%smap with keys ", article ? "a " : "");
        for (const ns_key *c = k->keys; c->name; c++)
            put(buf, size, &o, "%s%s", c == k->keys ? "" : ", ", c->name);
        break;
    case NS_T_CHOICE:
        put(buf, size, &o, "one of the %ss ", k->noun);
        for (const ns_variant *v = k->variants; v->name; v++)
            put(buf, size, &o, "%s%s", v == k->variants ? "" : ", ", v->name);
        break;
    case NS_T_LAYERS:
        put(buf, size, &o, "%slist of %zu to %zu %ss", article ? "a " : "", k->min_items,
            k->max_items, k->noun);
        break;
    case NS_T_NAMED_NUMBERS:
        put(buf, size, &o, "one of: ");
        for (const char *const *v = k->values; *v; v++)
            put(buf, size, &o, "%s%s", v == k->values ? "" : ", ", *v);
        put(buf, size, &o, ", or a map {name: number ");
        put_float_range(k, buf, size, &o);
        put(buf, size, &o, "}");
        break;
    }
    return buf;
}
