/* test_progress.c - the training progress lines of the command line
 * (src/cli/progress.c): the live bar and the epoch line fit every width from
 * 20 to 200 columns, give way in the documented order (the bar shrinks, then
 * img/s, ETA, acc go; the epoch line loses the seconds, lr, train pair,
 * costs, val), the whole epoch line is stable and at most 80 columns for
 * typical values, with the val pair when there is a validation split; and
 * the terminal width's fallbacks ($COLUMNS, 80). */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/progress.h"

enum { LINE = 512 };

static nr_batch_record batch(int epoch, int i, int n, double cost, double acc, double secs,
                             int images)
{
    nr_batch_record b = {.epoch = epoch, .batch = i, .batches = n, .cost = (float)cost,
                         .acc = (float)acc, .running_cost = cost, .running_acc = acc,
                         .epoch_seconds = secs, .images = images};
    return b;
}

static nr_epoch_record epoch(int e, double lr, double secs, bool val)
{
    nr_epoch_record r = {.epoch = e, .train_cost = 0.1987, .train_acc = 0.9386,
                         .test_cost = 0.0872, .test_acc = 0.9710,
                         .val_cost = val ? 0.0901 : NAN, .val_acc = val ? 0.97 : NAN,
                         .lr = lr, .seconds = secs};
    return r;
}

/* the width between the brackets, 0 without a bar */
static int bar_width(const char *line)
{
    const char *open = strchr(line, '[');
    const char *close = open ? strchr(open, ']') : NULL;
    return close ? (int)(close - open - 1) : 0;
}

/* ---- the live bar ---- */

START_TEST(test_bar_whole_line)
{
    nr_batch_record b = batch(3, 12, 24, 0.1987, 0.9386, 2.0, 4321 * 2);
    char line[LINE];
    size_t n = cli_batch_line(&b, 200, line, sizeof line);
    ck_assert_str_eq(line, "epoch 3 [============>           ] 12/24  cost 0.1987  "
                           "acc 93.86%  4321 img/s  ETA 2s");
    ck_assert_uint_eq(n, strlen(line));
    /* the last batch: a full bar */
    b = batch(3, 24, 24, 0.1987, 0.9386, 4.0, 4321 * 4);
    cli_batch_line(&b, 200, line, sizeof line);
    ck_assert_msg(strstr(line, "[========================] 24/24"), "%s", line);
}
END_TEST

START_TEST(test_bar_fits_every_width)
{
    const nr_batch_record cases[] = {
        batch(1, 1, 938, 2.3026, 0.1, 0.01, 64),
        batch(10, 938, 938, 0.0312, 0.9991, 24.3, 60000),
        batch(100000, 99999, 100000, 123456.789, 1.0, 86400.0, 2000000000),
        batch(7, 0, 3, NAN, 0.0, 0.0, 0),
    };
    char line[LINE];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int w = 20; w <= 200; w++) {
            size_t n = cli_batch_line(&cases[c], w, line, sizeof line);
            ck_assert_uint_eq(n, strlen(line));
            ck_assert_msg((int)n <= w - 1, "case %zu, %d columns: %zu wide: '%s'", c, w, n,
                          line);
            ck_assert_msg(strncmp(line, "epoch ", 6) == 0, "case %zu, %d columns: '%s'", c, w,
                          line);
            ck_assert_msg(!strpbrk(line, "\r\n\033"), "control characters: '%s'", line);
        }
}
END_TEST

/* From 200 columns down to 20: the bar shrinks to its least width before
 * any field goes; then img/s, ETA, acc, the bar and the cost go, in this
 * order, and a field once gone stays gone (the room a field leaves goes
 * back to the bar). At 40 columns: epoch, bar, batch and cost. */
START_TEST(test_bar_gives_way_in_order)
{
    const nr_batch_record cases[] = {
        batch(3, 120, 938, 0.1987, 0.9386, 2.5, 7680),
        batch(10, 938, 938, 0.0312, 0.9991, 24.3, 60000),
    };
    enum { RATE, ETA, ACC, BAR, COST, FIELDS };
    const char *names[FIELDS] = {"img/s", "ETA", "acc", "bar", "cost"};
    char line[LINE];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int gone_at[FIELDS] = {0};  /* the widest width without the field */
        for (int w = 200; w >= 20; w--) {
            cli_batch_line(&cases[c], w, line, sizeof line);
            bool shown[FIELDS] = {
                strstr(line, " img/s") != NULL, strstr(line, "ETA ") != NULL,
                strstr(line, "acc ") != NULL, strchr(line, '[') != NULL,
                strstr(line, "cost ") != NULL,
            };
            for (int f = 0; f < FIELDS; f++) {
                if (gone_at[f])
                    ck_assert_msg(!shown[f], "case %zu: %s back at %d columns: '%s'", c,
                                  names[f], w, line);
                else if (!shown[f])
                    gone_at[f] = w;
            }
            int bar = bar_width(line);
            if (shown[BAR])
                ck_assert_msg(bar >= CLI_BAR_MIN && bar <= CLI_BAR_MAX,
                              "case %zu, %d columns: bar %d: '%s'", c, w, bar, line);
            if (shown[RATE])
                ck_assert_msg(bar == CLI_BAR_MAX || (int)strlen(line) == w - 1,
                              "case %zu, %d columns: the bar shrank (%d) before it had to: "
                              "'%s'", c, w, bar, line);
            if (w == 200)
                ck_assert_msg(shown[RATE] && bar == CLI_BAR_MAX, "'%s'", line);
            if (w == 40)
                ck_assert_msg(shown[BAR] && shown[COST] && strstr(line, "epoch ") &&
                                  strstr(line, "/938"),
                              "case %zu, 40 columns: '%s'", c, line);
            if (gone_at[RATE] == w) {
                /* the step before had the least bar that still fitted img/s */
                char wider[LINE];
                cli_batch_line(&cases[c], w + 1, wider, sizeof wider);
                ck_assert_msg(bar_width(wider) == CLI_BAR_MIN,
                              "case %zu: img/s left out at %d columns while the bar was %d: "
                              "'%s'", c, w, bar_width(wider), wider);
            }
        }
        for (int f = 0; f + 1 < FIELDS; f++)
            ck_assert_msg(gone_at[f] > gone_at[f + 1] || (gone_at[f] && !gone_at[f + 1]),
                          "case %zu: %s left out at %d columns, %s at %d", c, names[f],
                          gone_at[f], names[f + 1], gone_at[f + 1]);
        ck_assert_msg(gone_at[RATE] > 0 && gone_at[ACC] > 40, "case %zu: %d %d", c,
                      gone_at[RATE], gone_at[ACC]);
    }
}
END_TEST

/* ---- the epoch line ---- */

START_TEST(test_epoch_whole_line)
{
    char line[LINE];
    nr_epoch_record e = epoch(1, 0.05, 2.5, false);
    cli_epoch_line(&e, 10, 0, line, sizeof line);
    ck_assert_str_eq(line, "ep  1/10 train 0.1987 93.86% test 0.0872 97.10% lr 0.05 2.5s");
    e = epoch(1, 0.05, 2.5, true);
    size_t n = cli_epoch_line(&e, 10, 0, line, sizeof line);
    ck_assert_str_eq(line, "ep  1/10 train 0.1987 93.86% val 0.0901 97.00% test 0.0872 97.10% "
                           "lr 0.05 2.5s");
    ck_assert_uint_eq(n, strlen(line));
    /* lr with 3 significant digits; whole seconds from 10 s */
    e = epoch(12, 0.000371234, 24.34, true);
    cli_epoch_line(&e, 100, 0, line, sizeof line);
    ck_assert_str_eq(line, "ep  12/100 train 0.1987 93.86% val 0.0901 97.00% "
                           "test 0.0872 97.10% lr 0.000371 24s");
    /* the whole line is not cut or shortened, whatever its length */
    e = epoch(99999, 1.23456e-05, 86400, true);
    e.train_cost = 12345.678;
    cli_epoch_line(&e, 100000, 0, line, sizeof line);
    ck_assert_str_eq(line, "ep  99999/100000 train 12345.6780 93.86% val 0.0901 97.00% "
                           "test 0.0872 97.10% lr 1.23e-05 86400s");
}
END_TEST

/* <= 80 columns for typical values: epochs < 100, costs < 10, accuracies
 * < 100%, an lr of at most 6 characters, an epoch < 1000 s. */
START_TEST(test_epoch_line_fits_80)
{
    const int epoch_counts[] = {1, 9, 10, 99};
    const double lrs[] = {0.1, 0.05, 0.001, 0.0005, 1e-4, 0.0371, 3e-4};
    const double secs[] = {0.04, 2.5, 9.96, 24.3, 99.96, 999.4};
    const double costs[] = {0.0001, 2.3026, 9.9999};
    const double accs[] = {0.0, 0.5, 0.9999};
    char line[LINE];
    for (int v = 0; v < 2; v++)
        for (size_t a = 0; a < 4; a++)
            for (size_t b = 0; b < sizeof lrs / sizeof lrs[0]; b++)
                for (size_t c = 0; c < sizeof secs / sizeof secs[0]; c++)
                    for (size_t d = 0; d < 3; d++)
                        for (size_t f = 0; f < 3; f++) {
                            int n = epoch_counts[a];
                            nr_epoch_record e = epoch(n, lrs[b], secs[c], v);
                            e.train_cost = e.val_cost = e.test_cost = costs[d];
                            e.train_acc = accs[f];
                            if (v)
                                e.val_acc = accs[f];
                            e.test_acc = accs[f];
                            size_t len = cli_epoch_line(&e, n, 0, line, sizeof line);
                            ck_assert_msg(len <= 80, "%zu wide: '%s'", len, line);
                            ck_assert_msg((strstr(line, " val ") != NULL) == (v == 1),
                                          "'%s'", line);
                        }
}
END_TEST

START_TEST(test_epoch_line_fits_every_width)
{
    nr_epoch_record cases[] = {
        epoch(1, 0.05, 2.5, false), epoch(10, 0.001, 24.3, true),
        epoch(99999, 1.23456e-05, 86400, true),
    };
    cases[2].train_cost = cases[2].test_cost = 12345.678;
    const int epochs[] = {10, 10, 100000};
    char line[LINE];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int w = 20; w <= 200; w++) {
            size_t n = cli_epoch_line(&cases[c], epochs[c], w, line, sizeof line);
            ck_assert_uint_eq(n, strlen(line));
            ck_assert_msg((int)n <= w - 1, "case %zu, %d columns: %zu wide: '%s'", c, w, n,
                          line);
            ck_assert_msg(strncmp(line, "ep ", 3) == 0, "'%s'", line);
        }
}
END_TEST

/* Narrower and narrower: the seconds, lr, train pair, the costs and val go,
 * in this order; the test accuracy stays down to 25 columns. A terminal as
 * wide as the whole line shows the whole line. */
START_TEST(test_epoch_line_gives_way_in_order)
{
    nr_epoch_record e = epoch(3, 0.05, 2.5, true);
    char whole[LINE], line[LINE];
    size_t len = cli_epoch_line(&e, 10, 0, whole, sizeof whole);
    cli_epoch_line(&e, 10, (int)len + 1, line, sizeof line);
    ck_assert_str_eq(line, whole);
    enum { SECS, LR, TRAIN, COSTS, VAL, FIELDS };
    const char *names[FIELDS] = {"seconds", "lr", "train", "costs", "val"};
    int gone_at[FIELDS] = {0};
    for (int w = 200; w >= 20; w--) {
        cli_epoch_line(&e, 10, w, line, sizeof line);
        bool shown[FIELDS] = {
            strstr(line, " 2.5s") != NULL, strstr(line, " lr ") != NULL,
            strstr(line, " train ") != NULL, strstr(line, "0.0872") != NULL,
            strstr(line, " val ") != NULL,
        };
        for (int f = 0; f < FIELDS; f++) {
            if (gone_at[f])
                ck_assert_msg(!shown[f], "%s back at %d columns: '%s'", names[f], w, line);
            else if (!shown[f])
                gone_at[f] = w;
        }
        if ((int)len <= w - 1)
            ck_assert_str_eq(line, whole);
        if (w >= 25)
            ck_assert_msg(strstr(line, "test 97.10%") || strstr(line, "test 0.0872 97.10%"),
                          "%d columns: '%s'", w, line);
        if (w == 60)
            ck_assert_str_eq(line, "ep  3/10 val 0.0901 97.00% test 0.0872 97.10%");
        if (w == 40)
            ck_assert_str_eq(line, "ep  3/10 val 97.00% test 97.10%");
    }
    for (int f = 0; f + 1 < FIELDS; f++)
        ck_assert_msg(gone_at[f] > gone_at[f + 1] && gone_at[f + 1] > 0,
                      "%s left out at %d columns, %s at %d", names[f], gone_at[f],
                      names[f + 1], gone_at[f + 1]);
}
END_TEST

/* ---- the terminal width ---- */

START_TEST(test_terminal_columns_fallbacks)
{
    FILE *f = tmpfile();  /* not a terminal */
    ck_assert(f);
    int fd = fileno(f);
    ck_assert_int_eq(setenv("COLUMNS", "57", 1), 0);
    ck_assert_int_eq(cli_terminal_columns(fd), 57);
    ck_assert_int_eq(setenv("COLUMNS", "wide", 1), 0);
    ck_assert_int_eq(cli_terminal_columns(fd), 80);
    ck_assert_int_eq(setenv("COLUMNS", "0", 1), 0);
    ck_assert_int_eq(cli_terminal_columns(fd), 80);
    ck_assert_int_eq(unsetenv("COLUMNS"), 0);
    ck_assert_int_eq(cli_terminal_columns(fd), 80);
    fclose(f);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("progress");
    TCase *bar = tcase_create("bar");
    tcase_add_test(bar, test_bar_whole_line);
    tcase_add_test(bar, test_bar_fits_every_width);
    tcase_add_test(bar, test_bar_gives_way_in_order);
    suite_add_tcase(suite, bar);
    TCase *ep = tcase_create("epoch");
    tcase_add_test(ep, test_epoch_whole_line);
    tcase_add_test(ep, test_epoch_line_fits_80);
    tcase_add_test(ep, test_epoch_line_fits_every_width);
    tcase_add_test(ep, test_epoch_line_gives_way_in_order);
    suite_add_tcase(suite, ep);
    TCase *term = tcase_create("terminal");
    tcase_add_test(term, test_terminal_columns_fallbacks);
    suite_add_tcase(suite, term);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
