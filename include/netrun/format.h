/* netrun/format.h - number and duration formatting shared by tables,
 * plots and reports. */
#ifndef NETRUN_FORMAT_H
#define NETRUN_FORMAT_H

#include <stddef.h>
#include <stdio.h>

/* "1,234,567" into buf (NUL-terminated, truncated if short); returns buf. */
const char *nr_format_thousands(size_t value, char *buf, size_t size);
/* The same for a count that may be unknown (negative): then `unknown`. */
const char *nr_format_count(long long value, const char *unknown, char *buf, size_t size);
/* A fraction as a percentage with 2 decimals, `sep` between the number and
 * "%" ("" or " "); NaN (not measured) gives "-". */
const char *nr_format_percent(double fraction, const char *sep, char *buf, size_t size);

/* Human duration in the assignment's form, written to buf (always
 * NUL-terminated when size > 0, truncated if short; 32 bytes always fit):
 *   < 1 s   "0.35sec"            two decimals
 *   < 60 s  "45.2sec"            one decimal
 *   < 1 h   "1min 23sec"         whole seconds, seconds two digits ("1min 05sec")
 *   else    "1h 02min 03sec"     hours not limited ("26h 00min 00sec")
 * Negative or non-finite seconds give "?". Returns buf. */
char *nr_format_duration(double seconds, char *buf, size_t size);

/* Writes S as one CSV field (RFC 4180): as it is, or in double quotes
 * (inner quotes doubled) when it holds a comma, quote, CR or LF or starts
 * or ends with a space. */
void nr_csv_field(FILE *fp, const char *s);

#endif
