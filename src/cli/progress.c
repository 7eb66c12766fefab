/* cli/progress.c - the training progress lines laid out for a terminal width
 * (see progress.h). */
#include "progress.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

/* A line assembled from pieces; the text is cut at size - 1. */
typedef struct line_buf {
    char *out;
    size_t size, len;
} line_buf;

static void put(line_buf *l, const char *sep, const char *text)
{
    if (l->len > 0 && sep)
        put(l, NULL, sep);
    int n = snprintf(l->out + l->len, l->size - l->len, "%s", text);
    size_t room = l->size - l->len - 1;
    l->len += (size_t)n < room ? (size_t)n : room;
}

/* Cuts the line to `limit` characters (limit < 0: empty). */
static size_t finish(line_buf *l, int limit)
{
    size_t max = limit > 0 ? (size_t)limit : 0;
    if (l->len > max) {
        l->len = max;
        l->out[max] = '\0';
    }
    return l->len;
}

size_t cli_batch_line(const nr_batch_record *b, int columns, char *out, size_t size)
{
    if (!size)
        return 0;
    out[0] = '\0';
    char head[32], count[40], cost[40], acc[40], rate[48], eta[48];
    snprintf(head, sizeof head, "epoch %d", b->epoch);
    snprintf(count, sizeof count, "%d/%d", b->batch, b->batches);
    snprintf(cost, sizeof cost, "cost %.4f", b->running_cost);
    snprintf(acc, sizeof acc, "acc %.2f%%", 100.0 * b->running_acc);
    double per_s = b->epoch_seconds > 0 ? b->images / b->epoch_seconds : 0.0;
    snprintf(rate, sizeof rate, "%.0f img/s", per_s);
    double left = b->batch > 0 ? b->epoch_seconds * (b->batches - b->batch) / b->batch : 0.0;
    snprintf(eta, sizeof eta, "ETA %.0fs", left);

    /* what is shown, widest first: each step leaves out one more field */
    static const struct { bool rate, eta, acc, bar, cost; } levels[] = {
        {true, true, true, true, true},   {false, true, true, true, true},
        {false, false, true, true, true}, {false, false, false, true, true},
        {false, false, false, false, true}, {false, false, false, false, false},
    };
    enum { LEVELS = sizeof levels / sizeof levels[0] };
    int limit = columns - 1;
    for (int k = 0; k < LEVELS; k++) {
        /* the length without the bar's inside */
        int fixed = (int)(strlen(head) + 1 + strlen(count));
        if (levels[k].bar)
            fixed += 3;  /* " [" "]" */
        if (levels[k].cost)
            fixed += 2 + (int)strlen(cost);
        if (levels[k].acc)
            fixed += 2 + (int)strlen(acc);
        if (levels[k].rate)
            fixed += 2 + (int)strlen(rate);
        if (levels[k].eta)
            fixed += 2 + (int)strlen(eta);
        int bar = limit - fixed;
        if (bar > CLI_BAR_MAX)
            bar = CLI_BAR_MAX;
        bool fits = levels[k].bar ? bar >= CLI_BAR_MIN : fixed <= limit;
        if (!fits && k < LEVELS - 1)
            continue;
        line_buf l = {out, size, 0};
        put(&l, NULL, head);
        if (levels[k].bar && bar >= CLI_BAR_MIN) {
            char inside[CLI_BAR_MAX + 3];
            int filled = b->batches > 0 ? (int)((long)bar * b->batch / b->batches) : 0;
            inside[0] = '[';
            for (int i = 0; i < bar; i++)
                inside[1 + i] = i < filled ? '=' : (i == filled ? '>' : ' ');
            inside[bar + 1] = ']';
            inside[bar + 2] = '\0';
            put(&l, " ", inside);
        }
        put(&l, " ", count);
        if (levels[k].cost)
            put(&l, "  ", cost);
        if (levels[k].acc)
            put(&l, "  ", acc);
        if (levels[k].rate)
            put(&l, "  ", rate);
        if (levels[k].eta)
            put(&l, "  ", eta);
        return finish(&l, limit);
    }
    return 0;  /* not reached */
}

size_t cli_epoch_line(const nr_epoch_record *e, int epochs, int columns, char *out,
                      size_t size)
{
    if (!size)
        return 0;
    out[0] = '\0';
    bool val = !isnan(e->val_acc);
    int digits = 1;
    for (int n = epochs; n >= 10; n /= 10)
        digits++;
    char head[48], train[48], vpair[48], vacc[32], tpair[48], tacc[32], lr[32], secs[32];
    snprintf(head, sizeof head, "ep %*d/%d", digits, e->epoch, epochs);
    snprintf(train, sizeof train, "train %.4f %.2f%%", e->train_cost, 100.0 * e->train_acc);
    snprintf(vpair, sizeof vpair, "val %.4f %.2f%%", e->val_cost, 100.0 * e->val_acc);
    snprintf(vacc, sizeof vacc, "val %.2f%%", 100.0 * e->val_acc);
    snprintf(tpair, sizeof tpair, "test %.4f %.2f%%", e->test_cost, 100.0 * e->test_acc);
    snprintf(tacc, sizeof tacc, "test %.2f%%", 100.0 * e->test_acc);
    snprintf(lr, sizeof lr, "lr %.3g", e->lr);
    if (e->seconds < 9.95)
        snprintf(secs, sizeof secs, "%.1fs", e->seconds);
    else
        snprintf(secs, sizeof secs, "%.0fs", e->seconds);

    /* what is shown, whole line first: each step leaves out one more field */
    static const struct { bool secs, lr, train, costs, val; } levels[] = {
        {true, true, true, true, true},    {false, true, true, true, true},
        {false, false, true, true, true},  {false, false, false, true, true},
        {false, false, false, false, true}, {false, false, false, false, false},
    };
    enum { LEVELS = sizeof levels / sizeof levels[0] };
    int limit = columns > 0 ? columns - 1 : (int)size;
    for (int k = 0; k < LEVELS; k++) {
        line_buf l = {out, size, 0};
        put(&l, NULL, head);
        if (levels[k].train)
            put(&l, " ", train);
        if (val && levels[k].val)
            put(&l, " ", levels[k].costs ? vpair : vacc);
        put(&l, " ", levels[k].costs ? tpair : tacc);
        if (levels[k].lr)
            put(&l, " ", lr);
        if (levels[k].secs)
            put(&l, " ", secs);
        if (columns <= 0 || (int)l.len <= limit || k == LEVELS - 1)
            return finish(&l, limit);
    }
    return 0;  /* not reached */
}

int cli_terminal_columns(int fd)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *env = getenv("COLUMNS");
    if (env && *env) {
        char *end;
        long n = strtol(env, &end, 10);
        if (*end == '\0' && n > 0 && n <= 100000)
            return (int)n;
    }
    return 80;
}
