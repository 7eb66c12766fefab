/* format.c - number formatting (see netrun/format.h). */
#include "netrun/format.h"

#include <stdio.h>

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
