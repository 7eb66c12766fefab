/* netrun/format.h - number formatting shared by tables and reports. */
#ifndef NETRUN_FORMAT_H
#define NETRUN_FORMAT_H

#include <stddef.h>

/* "1,234,567" into buf (NUL-terminated, truncated if short); returns buf. */
const char *nr_format_thousands(size_t value, char *buf, size_t size);
/* The same for a count that may be unknown (negative): then `unknown`. */
const char *nr_format_count(long long value, const char *unknown, char *buf, size_t size);
/* A fraction as a percentage with 2 decimals, `sep` between the number and
 * "%" ("" or " "); NaN (not measured) gives "-". */
const char *nr_format_percent(double fraction, const char *sep, char *buf, size_t size);

#endif
