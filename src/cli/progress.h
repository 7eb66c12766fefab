/* cli/progress.h - the training progress lines of `netrun SPEC` laid out for
 * a terminal width: pure functions (a record and a width -> one line), and
 * the terminal's width.
 *
 * The live bar (stderr, redrawn in place with "\r\033[K"):
 *   epoch 1 [============>           ] 12/24  cost 0.1987  acc 93.86%  4321 img/s  ETA 2s
 * The epoch line (stdout), fields separated by one space, always in this
 * order; the val pair only with a validation split:
 *   ep  1/10 train 0.1987 93.86% val 0.0901 97.00% test 0.0872 97.10% lr 0.05 2.5s
 * (each pair: the cost, then the accuracy in percent; lr with 3 significant
 * digits; the epoch's training seconds, whole seconds from 10 s). It is at
 * most 80 columns while epochs < 100, costs < 10, accuracies < 100%, the lr
 * takes at most 6 characters (0.05, 0.001, 0.0005, 1e-04) and an epoch
 * takes < 1000 s. */
#ifndef NETRUN_CLI_PROGRESS_H
#define NETRUN_CLI_PROGRESS_H

#include <stddef.h>

#include "netrun/train.h"

/* The bar's width (between the brackets): at most, and the least shown. */
enum { CLI_BAR_MAX = 24, CLI_BAR_MIN = 6 };

/* The live bar of a batch in at most columns - 1 characters (the cursor must
 * not reach the last column, or the terminal wraps the line and "\r" no
 * longer returns to its start). What gives way, in order: the bar shrinks
 * from CLI_BAR_MAX to CLI_BAR_MIN; then img/s, ETA, acc, the bar and the
 * cost are left out; below ~20 columns the line is cut. Writes the line
 * (NUL-terminated, no control characters) into out[size]; returns its
 * length. */
size_t cli_batch_line(const nr_batch_record *batch, int columns, char *out, size_t size);

/* The per-epoch line (above; val_acc NaN = no validation split). columns <= 0
 * (stdout is not a terminal): the whole line, always the same fields.
 * Otherwise at most columns - 1 characters: the seconds, the lr, the train
 * pair, the val and test costs (their accuracies stay) and the val accuracy
 * are left out, in this order, until the line fits; below ~20 columns it is
 * cut. Returns the length written into out[size]. */
size_t cli_epoch_line(const nr_epoch_record *epoch, int epochs, int columns, char *out,
                      size_t size);

/* The width of the terminal on fd (TIOCGWINSZ); when it has none, $COLUMNS;
 * else 80. Cheap: callers ask before every draw, so a resized terminal is
 * followed at the next one. */
int cli_terminal_columns(int fd);

#endif
