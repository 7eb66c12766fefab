/* netrun/format.h - number formatting shared by tables and reports. */
#ifndef NETRUN_FORMAT_H
#define NETRUN_FORMAT_H

#include <stddef.h>

/* "1,234,567" into buf (NUL-terminated, truncated if short); returns buf. */
const char *nr_format_thousands(size_t value, char *buf, size_t size);

#endif
