/* netrun/outputs.h - the pictures and tables a run folder gets, drawn from
 * the history and the final model (cairo, through netrun/plot.h). All files
 * are written atomically into `dir`.
 *
 *   curves.png / curves.svg   the assignment's learning-curve figure: cost and
 *                             accuracy per epoch (train, test, validation),
 *                             suptitle "Batch size | Learning rate | Epochs |
 *                             Training time"; redrawn after every epoch
 *   confusion.csv/.png        the final model on Test (rows true, columns predicted)
 *   metrics.csv               per-class precision, recall, F1, support
 *   misclassified.png/.csv    up to ten misclassified test images, one per true
 *                             class where there is one (the most confident mistake)
 *   augment_preview.png       augmented training images (runs with augmentation)
 */
#ifndef NETRUN_OUTPUTS_H
#define NETRUN_OUTPUTS_H

#include "netrun/data.h"
#include "netrun/error.h"
#include "netrun/net.h"
#include "netrun/train.h"

/* The suptitle: "Batch size: 64 | Learning rate: 0.05 | Epochs: 10 |
 * Training time: 1min 23sec" (a schedule other than constant is named with its
 * start lr: "Learning rate: cosine from 0.05"). */
void nr_curves_title(const nr_train_config *cfg, int epochs_done, double train_seconds,
                     char *buf, size_t size);

/* curves.png and curves.svg from history[0..epochs_done). */
int nr_write_curves(const char *dir, const nr_epoch_record *history, int epochs_done,
                    const char *title, nr_error *err);

/* Evaluates `net` on `test` and writes confusion.csv, confusion.png,
 * metrics.csv, misclassified.png and misclassified.csv. result receives the
 * evaluation. */
int nr_write_test_report(const char *dir, nr_net *net, const nr_dataset *test, int batch_size,
                         const char *run_name, nr_eval_result *result, nr_error *err);

/* augment_preview.png: the first `count` training images of `data`, each
 * augmented as in epoch 1. */
int nr_write_augment_preview(const char *dir, const nr_dataset *data,
                             const nr_train_config *cfg, size_t count, nr_error *err);

#endif
