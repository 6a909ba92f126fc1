/*
 * config_internal.h - shared by the files of dataplane/config/ (config.c:
 * the table, values, applying, CONFIG GET, --help; config_file.c: the config
 * file; config_args.c: the command line).  Not for use outside this folder.
 */
#ifndef HP_CONFIG_INTERNAL_H
#define HP_CONFIG_INTERNAL_H

#include <stdbool.h>

#include "config.h"

#define CONFIG_SHOW_MAX 80 /* bytes of a bad value quoted in an error */

/* Where a directive came from, for error messages. */
struct config_origin {
    const char *file; /* NULL unless from a config file */
    int line;
    bool flag; /* from the command line */
};

/* config.c */
void config_show_values(int nvals, const char *const *vals, char *out, size_t outlen);
int config_apply_from(struct hp_config *cfg, const struct config_origin *o, const char *name,
                      int nvals, const char *const *vals, char *err, size_t errlen);

/* config_file.c */
int config_split_line(const char *line, char *store, char **words, int maxwords,
                      const char **reason);
int config_load_file(struct hp_config *cfg, const char *path, char *err, size_t errlen);

#endif
