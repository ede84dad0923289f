/*
 * The rate model's per-tick arithmetic over every group and every CPU figure at once (rates.py).
 *
 * It is what numpy did operation by operation, in one call: a tick runs cold (a second after the last,
 * nothing of pmutop is in the caches), and there each numpy operation cost 5-15 us, most of a tick
 * at 2 CPUs. The floats are the same: the same IEEE operations on the same operands in the same order
 * (built with -ffp-contract=off, so no multiply-add is fused), NaN wherever numpy gave NaN. Exact
 * scaling of multiplexed groups (integer value x enabled / running) stays in Python's integers.
 */
#include "rates_shim.h"

#include <math.h>
#include <stddef.h>

int64_t pmt_deltas(int64_t groups, int64_t widest, const int64_t *widths, const uint8_t *usable,
                   const uint8_t *was_present, const int64_t *was_meta, const uint64_t *was_counts,
                   const uint8_t *is_present, const int64_t *is_meta, const uint64_t *is_counts,
                   struct pmt_deltas *out)
{
    int64_t to_scale = 0;
    for (int64_t g = 0; g < groups; g++) {
        const int64_t *before = was_meta + 4 * g, *after = is_meta + 4 * g;
        int64_t change[4];
        for (int k = 0; k < 4; k++)  /* wrapping, as numpy's int64 subtraction */
            change[k] = (int64_t)((uint64_t)after[k] - (uint64_t)before[k]);
        int64_t enabled = change[0], running = change[1];
        /* The members the read has and the layout names (both as far as they go). */
        int64_t zipped = after[3] < widths[g] ? after[3] : widths[g];
        const uint64_t *was = was_counts + widest * g, *is = is_counts + widest * g;
        /* Counts are cumulative: a decrease is a reset or a reopen, never real. */
        int backwards = 0;
        for (int64_t m = 0; m < widest; m++)
            if (m < zipped && is[m] < was[m])
                backwards = 1;
        int steady = change[2] == 0 && change[3] == 0 && enabled >= 0 && running >= 0;
        int valid = was_present[g] && is_present[g] && steady && !backwards && usable[g];
        int counting = valid && running > 0;
        int extrapolated = counting && running < enabled;
        out->valid[g] = (uint8_t)valid;
        out->enabled[g] = enabled;
        out->running[g] = running;
        out->extrapolated[g] = (uint8_t)extrapolated;
        out->coverage[g] = valid && enabled > 0 ? (double)running / (double)enabled : NAN;
        for (int64_t m = 0; m < widest; m++) {
            uint64_t raw = is[m] - was[m];
            int counted = m < zipped && counting;
            out->raw[widest * g + m] = raw;
            out->counted[widest * g + m] = (uint8_t)counted;
            out->scaled[widest * g + m] = counted ? (double)raw : NAN;
        }
        if (extrapolated && zipped > 0)
            to_scale++;
    }
    return to_scale;
}

void pmt_busy(int64_t cpus, const double *previous, const double *current, const uint8_t *online,
              double user_hz, double *busy_s, double *util_pct)
{
    for (int64_t c = 0; c < cpus; c++) {
        if (previous == NULL) {
            busy_s[c] = util_pct[c] = NAN;
            continue;
        }
        /* NaN for a CPU /proc/stat did not list: every comparison with it is false. */
        double busy = current[2 * c] - previous[2 * c], total = current[2 * c + 1] - previous[2 * c + 1];
        if (!(online[c] && total > 0 && busy >= 0))
            busy = NAN;
        busy_s[c] = busy / user_hz;
        util_pct[c] = 100.0 * busy / total;
    }
}

/* numerator / denominator, NaN where either is missing or the denominator is zero. */
static double ratio(double numerator, double denominator)
{
    return numerator / (denominator == 0 ? NAN : denominator);
}

/* The failure code that explains figure cell i when it is n/a: the group's loss, else the layout's. */
static int64_t cause_of(const struct pmt_sources *sources, const int64_t *lost, int64_t i)
{
    if (lost != NULL && lost[sources->groups[i]] > 0)
        return lost[sources->groups[i]];
    return sources->failure[i];
}

void pmt_cpu_figures(int64_t figures, int64_t cpus, const struct pmt_figure_rows *rows,
                     const struct pmt_sources *sources, const int64_t *lost,
                     const struct pmt_deltas *deltas, const double *busy_s, const double *util_pct,
                     double interval_s, double user_hz, double min_busy_ticks, int64_t too_idle_reason,
                     double *value, double *coverage, uint8_t *extrapolated, int64_t *reason)
{
    for (int64_t i = 0; i < rows->members * cpus; i++) {
        int lost_here = lost != NULL && lost[sources->groups[i]] > 0;
        value[i] = sources->uncounted[i] || lost_here ? NAN : deltas->scaled[sources->flat[i]];
    }
    for (int64_t r = 0; r < cpus; r++) {
#define AT(row) value[(row) * cpus + r]
        for (int k = 0; k < 4; k++)
            AT(rows->per_second + k) = interval_s != 0 ? AT(rows->per_second_members[k]) / interval_s : NAN;
        AT(rows->tsc_ghz) *= 1e-9;
        AT(rows->ghz) = ratio(AT(rows->cycles), busy_s[r]) * 1e-9;
        AT(rows->ipc) = ratio(AT(rows->instructions), AT(rows->cycles));
        /* turbostat's Bzy_MHz: TSC rate x APERF/MPERF, the average frequency while not idle. */
        AT(rows->effective_ghz) = AT(rows->tsc_ghz) * ratio(AT(rows->aperf), AT(rows->mperf));
        AT(rows->util) = util_pct[r];
#undef AT
    }
    for (int64_t i = 0; i < figures * cpus; i++) {
        int missing = isnan(value[i]);
        int64_t group = sources->groups[i];
        /* A member's coverage stands without a value (what was enabled was still counted for that
         * long); a derived figure's only with its value. */
        coverage[i] = i >= rows->members * cpus && missing ? NAN : deltas->coverage[group];
        extrapolated[i] = (uint8_t)(deltas->extrapolated[group] && !missing);
        reason[i] = missing ? cause_of(sources, lost, i) : 0;
    }
    for (int64_t r = 0; r < cpus; r++) {
        int64_t ghz = rows->ghz * cpus + r;
        int no_cycles = isnan(value[rows->cycles * cpus + r]);
        /* A clock needs enough busy time to divide by (NaN busy: unknown, not idle). */
        if (busy_s[r] * user_hz < min_busy_ticks) {
            value[ghz] = coverage[ghz] = NAN;
            extrapolated[ghz] = 0;
            reason[ghz] = too_idle_reason;
        }
        /* Without cycles, GHz and IPC are n/a for the cycles' reason alone (not too idle, say). */
        if (no_cycles)
            for (int64_t row = rows->ghz; row <= rows->ipc; row++)
                reason[row * cpus + r] = cause_of(sources, lost, rows->cycles * cpus + r);
    }
}
