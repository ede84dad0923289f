/*
 * Interface of the rate model's per-tick arithmetic (rates.py). The build script feeds this file
 * (minus its preprocessor lines) to cffi's cdef, so it must stay within what cffi parses.
 *
 * Every array is a numpy array's buffer, C order: groups have a row per group of the layouts plus
 * the absent row past the last; CPU figures have a row per figure and a column per CPU row.
 */
#ifndef PMUTOP_RATES_SHIM_H
#define PMUTOP_RATES_SHIM_H

#include <stdint.h>

/* The interval's counts of every group (rates.Deltas). */
struct pmt_deltas {
    uint8_t *valid;
    int64_t *enabled;
    int64_t *running;
    uint8_t *counted;  /* groups x widest */
    double *scaled;    /* groups x widest: the raw delta as a double, NaN where not counted */
    uint64_t *raw;     /* groups x widest */
    double *coverage;
    uint8_t *extrapolated;
};

/* Which rows of the CPU figures array are which (rates.py's row plan). */
struct pmt_figure_rows {
    int64_t members;        /* the member figures come first: rows 0 .. members-1 */
    int64_t cycles, instructions, aperf, mperf;
    int64_t per_second;     /* the first of four consecutive rates (tsc_ghz one of them): their members below */
    int64_t per_second_members[4];
    int64_t tsc_ghz, ghz, ipc, effective_ghz, util;
};

/* Where each figure comes from (rates.FigureSources). */
struct pmt_sources {
    const int64_t *groups;     /* figures x cpus */
    const int64_t *failure;    /* figures x cpus */
    const int64_t *flat;       /* members x cpus: index into the groups x widest scaled array */
    const uint8_t *uncounted;  /* members x cpus */
};

/*
 * The deltas of the usable groups between two ticks' reads (GroupReads: present per group, meta as
 * enabled, running, generation, width; counts groups x widest), previous ("was") and current ("is")
 * as arguments rather than structs, one object fewer for Python to build every tick. Returns how many
 * groups need exact scaling (multiplexed, with a member): their `scaled` rows hold the raw deltas,
 * and rates.py scales them.
 */
int64_t pmt_deltas(int64_t groups, int64_t widest, const int64_t *widths, const uint8_t *usable,
                   const uint8_t *was_present, const int64_t *was_meta, const uint64_t *was_counts,
                   const uint8_t *is_present, const int64_t *is_meta, const uint64_t *is_counts,
                   struct pmt_deltas *out);

/* Busy seconds and util% per CPU from /proc/stat's (busy, total) ticks; previous NULL: all NaN. */
void pmt_busy(int64_t cpus, const double *previous, const double *current, const uint8_t *online,
              double user_hz, double *busy_s, double *util_pct);

/*
 * Every CPU figure (snapshot.Figures' four arrays) from the deltas; lost (a failure code per group,
 * 0: none) may be NULL.
 */
void pmt_cpu_figures(int64_t figures, int64_t cpus, const struct pmt_figure_rows *rows,
                     const struct pmt_sources *sources, const int64_t *lost,
                     const struct pmt_deltas *deltas, const double *busy_s, const double *util_pct,
                     double interval_s, double user_hz, double min_busy_ticks, int64_t too_idle_reason,
                     double *value, double *coverage, uint8_t *extrapolated, int64_t *reason);

#endif
