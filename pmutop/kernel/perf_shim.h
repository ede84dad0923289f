/*
 * Interface of the perf_event shim. The build script feeds this file (minus its
 * preprocessor lines) to cffi's cdef, so it must stay within what cffi parses:
 * fixed-width types, plain structs, literal enum values.
 */
#ifndef PMUTOP_PERF_SHIM_H
#define PMUTOP_PERF_SHIM_H

#include <stddef.h>
#include <stdint.h>

enum pmt_flag {
    PMT_F_DISABLED = 0x1,
    PMT_F_INHERIT = 0x2,
    PMT_F_EXCLUDE_USER = 0x4,
    PMT_F_EXCLUDE_KERNEL = 0x8,
    PMT_F_EXCLUDE_HV = 0x10,
    PMT_F_EXCLUDE_IDLE = 0x20,
    PMT_F_EXCLUDE_GUEST = 0x40,
    PMT_F_SAMPLE_ID_ALL = 0x80,
    PMT_F_WATERMARK = 0x100,
    PMT_F_ENABLE_ON_EXEC = 0x200,
    PMT_F_PINNED = 0x400,
    PMT_F_USE_CLOCKID = 0x800,
    PMT_F_TASK = 0x1000,
    PMT_F_COMM = 0x2000
};

/* Bitfield-free stand-in for struct perf_event_attr. */
struct pmt_spec {
    uint32_t type;
    uint64_t config;
    uint64_t config1;
    uint64_t config2;
    uint64_t config3;
    uint64_t sample_period;
    uint64_t sample_type;
    uint64_t read_format;
    uint32_t wakeup_events; /* with PMT_F_WATERMARK: wakeup_watermark, in bytes */
    uint32_t flags;
    int32_t clockid; /* with PMT_F_USE_CLOCKID: sample times on this clock (CLOCK_MONOTONIC) */
};

int pmt_open(const struct pmt_spec *spec, int pid, int cpu, int group_fd);
int pmt_close(int fd);
int pmt_enable(int fd, int whole_group);
int pmt_disable(int fd, int whole_group);
int pmt_read_tick(const int *fds, size_t n, uint64_t *buf, size_t words_per_fd, int *status);

/* What pmt_decode_groups made of each group's read. */
enum pmt_verdict {
    PMT_READ_WHOLE = 0,
    PMT_READ_NO_ANSWER = 1, /* status <= 0: end-of-file or an errno */
    PMT_READ_MALFORMED = 2, /* shorter than its own header claims */
    PMT_READ_GONE = 3 /* a member short, or stopped: detached by a CPU that left */
};

/* Where pmt_decode_groups finds what each group is checked against, and where it writes. */
struct pmt_groups {
    size_t n;
    const int64_t *rows; /* each group's row of the output columns */
    const int64_t *members; /* how many events each group holds */
    const int64_t *generations;
    int64_t *looked_enabled; /* the last look at each group: time_enabled, and the clock after its read */
    int64_t *looked_at;
};

struct pmt_columns {
    uint8_t *present; /* a byte per row */
    int64_t *meta; /* 4 per row: enabled, running, generation, members */
    uint64_t *values; /* width per row */
    size_t width;
};

int pmt_decode_groups(const int *status, const uint64_t *words, size_t words_per_fd, const struct pmt_groups *groups,
                      int stop_check, int64_t before, int64_t after, int64_t slack_ns, struct pmt_columns *out,
                      uint8_t *verdict);
int pmt_poll_hup(const int *fds, size_t n, int *revents);
int pmt_sample_groups(const int *fds, size_t n, uint64_t *buf, size_t words_per_fd, int *status, int *revents,
                      int watch_hangups, const struct pmt_groups *groups, int stop_check, int64_t slack_ns,
                      uint8_t *present, int64_t *meta, uint64_t *values, size_t width, uint8_t *verdict);
int pmt_cpu_times(int fd, char *buf, size_t cap, int64_t *out, size_t max_cpus);
void *pmt_ring_map(int fd, unsigned data_pages);
int pmt_ring_unmap(void *base, unsigned data_pages);
size_t pmt_ring_drain(void *base, uint8_t *out, size_t outcap, uint64_t *lost_hint);

#endif
