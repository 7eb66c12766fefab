/* format.c - number and duration formatting (see netrun/format.h). */
#include "netrun/format.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *nr_format_thousands(size_t value, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%zu", value);
    size_t j = 0;
    for (int i = 0; i < n && j + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[j++] = ',';
        buf[j++] = digits[i];
    }
    buf[j] = '\0';
    return buf;
}

const char *nr_format_count(long long value, const char *unknown, char *buf, size_t size)
{
    if (value < 0) {
        snprintf(buf, size, "%s", unknown);
        return buf;
    }
    return nr_format_thousands((size_t)value, buf, size);
}

const char *nr_format_percent(double fraction, const char *sep, char *buf, size_t size)
{
    if (isnan(fraction))
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%.2f%s%%", 100.0 * fraction, sep);
    return buf;
}

char *nr_format_duration(double seconds, char *buf, size_t size)
{
    if (!buf || size == 0)
        return buf;
    if (!isfinite(seconds) || seconds < 0) {
        snprintf(buf, size, "?");
        return buf;
    }
    if (seconds < 0.995) {
        snprintf(buf, size, "%.2fsec", seconds);
        return buf;
    }
    if (seconds < 59.95) {
        snprintf(buf, size, "%.1fsec", seconds);
        return buf;
    }
    double whole = floor(seconds + 0.5);
    if (whole > 9.0e15)
        whole = 9.0e15;
    long long s = (long long)whole;
    if (s < 3600) {
        snprintf(buf, size, "%lldmin %02lldsec", s / 60, s % 60);
        return buf;
    }
    snprintf(buf, size, "%lldh %02lldmin %02lldsec", s / 3600, (s / 60) % 60, s % 60);
    return buf;
}

void nr_csv_field(FILE *fp, const char *s)
{
    size_t n = strlen(s);
    int quote = n > 0 && (s[0] == ' ' || s[n - 1] == ' ');
    for (const char *p = s; *p && !quote; p++)
        quote = *p == ',' || *p == '"' || *p == '\n' || *p == '\r';
    if (!quote) {
        fputs(s, fp);
        return;
    }
    fputc('"', fp);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            fputc('"', fp);
        fputc(*p, fp);
    }
    fputc('"', fp);
}
