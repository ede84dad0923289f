/*
 * Thin layer over perf_event_open(2) for pmutop. It exists so Python never has
 * to lay out struct perf_event_attr (bitfields, size versions) and so one tick
 * of counter reads or one ring-buffer drain is a single foreign call.
 * Portable C only: it is also cross-built for aarch64.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "perf_shim.h"

/* Where config3 lives in the ABI (PERF_ATTR_SIZE_VER8), even when the build headers predate it. */
#define PMT_CONFIG3_OFFSET 128
#define PMT_ATTR_SIZE_VER8 136

int pmt_open(const struct pmt_spec *spec, int pid, int cpu, int group_fd)
{
    union {
        struct perf_event_attr attr;
        unsigned char raw[PMT_ATTR_SIZE_VER8];
    } u;
    struct perf_event_attr *a = &u.attr;
    uint32_t f = spec->flags;
    long fd;

    memset(&u, 0, sizeof u);
    a->size = sizeof *a;
    a->type = spec->type;
    a->config = spec->config;
    a->config1 = spec->config1;
    a->config2 = spec->config2;
#ifdef PERF_ATTR_SIZE_VER8
    a->config3 = spec->config3;
#else
    /* Old headers: write config3 at its ABI offset and announce the larger struct. */
    if (spec->config3) {
        memcpy(u.raw + PMT_CONFIG3_OFFSET, &spec->config3, sizeof spec->config3);
        a->size = PMT_ATTR_SIZE_VER8;
    }
#endif
    a->sample_period = spec->sample_period;
    a->sample_type = spec->sample_type;
    a->read_format = spec->read_format;
    /* wakeup_events and wakeup_watermark share a union: which one it is, is attr.watermark. */
    a->wakeup_events = spec->wakeup_events;
    a->disabled = !!(f & PMT_F_DISABLED);
    a->inherit = !!(f & PMT_F_INHERIT);
    a->exclude_user = !!(f & PMT_F_EXCLUDE_USER);
    a->exclude_kernel = !!(f & PMT_F_EXCLUDE_KERNEL);
    a->exclude_hv = !!(f & PMT_F_EXCLUDE_HV);
    a->exclude_idle = !!(f & PMT_F_EXCLUDE_IDLE);
    a->exclude_guest = !!(f & PMT_F_EXCLUDE_GUEST);
    a->sample_id_all = !!(f & PMT_F_SAMPLE_ID_ALL);
    a->watermark = !!(f & PMT_F_WATERMARK);
    a->enable_on_exec = !!(f & PMT_F_ENABLE_ON_EXEC);
    a->pinned = !!(f & PMT_F_PINNED);
    a->use_clockid = !!(f & PMT_F_USE_CLOCKID);
    a->task = !!(f & PMT_F_TASK);
    a->comm = !!(f & PMT_F_COMM);
    a->clockid = spec->clockid;

    fd = syscall(SYS_perf_event_open, a, pid, cpu, group_fd, PERF_FLAG_FD_CLOEXEC);
    return fd < 0 ? -errno : (int)fd;
}

int pmt_close(int fd)
{
    return close(fd) < 0 ? -errno : 0;
}

static int group_ioctl(int fd, unsigned long request, int whole_group)
{
    return ioctl(fd, request, whole_group ? PERF_IOC_FLAG_GROUP : 0) < 0 ? -errno : 0;
}

int pmt_enable(int fd, int whole_group)
{
    return group_ioctl(fd, PERF_EVENT_IOC_ENABLE, whole_group);
}

int pmt_disable(int fd, int whole_group)
{
    return group_ioctl(fd, PERF_EVENT_IOC_DISABLE, whole_group);
}

int pmt_read_tick(const int *fds, size_t n, uint64_t *buf, size_t words_per_fd, int *status)
{
    size_t bytes = words_per_fd * sizeof(uint64_t);
    int failures = 0;

    for (size_t i = 0; i < n; i++) {
        ssize_t got = read(fds[i], buf + i * words_per_fd, bytes);

        if (got > 0) {
            status[i] = (int)got;
        } else {
            /* 0 is the kernel's end-of-file for an event that can no longer count. */
            status[i] = got < 0 ? -errno : 0;
            failures++;
        }
    }
    return failures;
}

/*
 * A tick's GROUP_READ_FORMAT reads (as pmt_read_tick left them) decoded into the model's columns, so
 * that no Python object is made per group: group i's read goes to row groups->rows[i] when it is
 * whole. Its verdict says what else it was; the caller looks only at those. The stop test is
 * pmutop.model.perf_abi.has_stopped's (tests/test_perf_abi.py holds the two to the same answers): a
 * CPU-wide group whose time_enabled grew less than the clock between two looks has stopped.
 * Returns how many groups were not whole.
 */
int pmt_decode_groups(const int *status, const uint64_t *words, size_t words_per_fd, const struct pmt_groups *groups,
                      int stop_check, int64_t before, int64_t after, int64_t slack_ns, struct pmt_columns *out,
                      uint8_t *verdict)
{
    int troubled = 0;

    for (size_t i = 0; i < groups->n; i++) {
        const uint64_t *read = words + i * words_per_fd;
        uint64_t length, members;
        int64_t row, enabled;

        verdict[i] = PMT_READ_WHOLE;
        if (status[i] <= 0) {
            verdict[i] = PMT_READ_NO_ANSWER;
            troubled++;
            continue;
        }
        length = (uint64_t)status[i] / sizeof(uint64_t);
        if (length > words_per_fd)
            length = words_per_fd;
        members = read[0];
        if (length < 3 || members > (length - 3) / 2) {
            verdict[i] = PMT_READ_MALFORMED;
            troubled++;
            continue;
        }
        enabled = (int64_t)read[1];
        if (stop_check) {
            __int128 elapsed = (__int128)before - groups->looked_at[i];
            __int128 grown = (__int128)enabled - groups->looked_enabled[i];
            /* Python's floor division, for a clock that stepped back. */
            __int128 margin = elapsed / 100 - (elapsed % 100 < 0);

            if (elapsed - grown > slack_ns + margin)
                verdict[i] = PMT_READ_GONE;
        }
        groups->looked_enabled[i] = enabled;
        groups->looked_at[i] = after;
        if (members != (uint64_t)groups->members[i])
            verdict[i] = PMT_READ_GONE;
        if (verdict[i] != PMT_READ_WHOLE) {
            troubled++;
            continue;
        }
        row = groups->rows[i];
        out->present[row] = 1;
        out->meta[4 * row] = enabled;
        out->meta[4 * row + 1] = (int64_t)read[2];
        out->meta[4 * row + 2] = groups->generations[i];
        out->meta[4 * row + 3] = (int64_t)members;
        for (size_t k = 0; k < members && k < out->width; k++)
            out->values[row * out->width + k] = read[3 + 2 * k];
    }
    return troubled;
}

int pmt_poll_hup(const int *fds, size_t n, int *revents)
{
    struct pollfd *pfds;
    int ready;

    if (n == 0)
        return 0;
    pfds = calloc(n, sizeof *pfds);
    if (!pfds)
        return -ENOMEM;
    /* events = 0: POLLHUP/POLLERR/POLLNVAL are reported regardless, ring readiness is not wanted. */
    for (size_t i = 0; i < n; i++)
        pfds[i].fd = fds[i];
    ready = poll(pfds, n, 0);
    if (ready < 0) {
        ready = -errno;
    } else {
        for (size_t i = 0; i < n; i++)
            revents[i] = pfds[i].revents;
    }
    free(pfds);
    return ready;
}

static int64_t monotonic_ns(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/*
 * A tick's groups in one call: with watch_hangups, first the fds the kernel has hung up (pmt_poll_hup;
 * only meaningful for leaders with a mapped ring), then every group read (pmt_read_tick) between two
 * readings of CLOCK_MONOTONIC (time.monotonic_ns), decoded (pmt_decode_groups). A hung-up group's
 * verdict is PMT_READ_NO_ANSWER and its row stays absent, whatever its read said. Returns how many
 * groups were not whole, or -errno when poll failed.
 */
int pmt_sample_groups(const int *fds, size_t n, uint64_t *buf, size_t words_per_fd, int *status, int *revents,
                      int watch_hangups, const struct pmt_groups *groups, int stop_check, int64_t slack_ns,
                      uint8_t *present, int64_t *meta, uint64_t *values, size_t width, uint8_t *verdict)
{
    /* The columns as arguments, not a struct: one object fewer for Python to build every tick. */
    struct pmt_columns columns = {present, meta, values, width};
    int hangups = 0, troubled;
    int64_t before, after;

    if (watch_hangups) {
        hangups = pmt_poll_hup(fds, n, revents);
        if (hangups < 0)
            return hangups;
    }
    before = monotonic_ns();
    pmt_read_tick(fds, n, buf, words_per_fd, status);
    after = monotonic_ns();
    troubled = pmt_decode_groups(status, buf, words_per_fd, groups, stop_check, before, after, slack_ns, &columns,
                                 verdict);
    for (size_t i = 0; hangups > 0 && i < n; i++) {
        if (!(revents[i] & (POLLHUP | POLLERR | POLLNVAL)))
            continue;
        if (verdict[i] == PMT_READ_WHOLE) {
            present[groups->rows[i]] = 0;
            troubled++;
        }
        verdict[i] = PMT_READ_NO_ANSWER;
    }
    return troubled;
}

/*
 * Per-CPU ticks from /proc/stat, read through `fd`: pread at offset 0 makes the kernel generate the
 * file afresh. For each cpuN line, in file order, out[3i] = N, out[3i + 1] = busy ticks, out[3i + 2] =
 * total ticks, where busy is the total (user nice system idle iowait irq softirq steal; guest time is
 * inside user and nice) less idle, iowait and steal. Returns the number of CPUs; -ENOSPC when `cap`
 * bytes may have cut the cpuN lines short; -E2BIG when there are more than `max_cpus`; or -errno.
 */
int pmt_cpu_times(int fd, char *buf, size_t cap, int64_t *out, size_t max_cpus)
{
    ssize_t got;
    size_t count = 0;
    char *line;

    if (cap < 2)
        return -ENOSPC;
    got = pread(fd, buf, cap - 1, 0);
    if (got < 0)
        return -errno;
    buf[got] = '\0';
    /* A full buffer holds all the cpuN lines only if the line after them ("intr") made it in too. */
    if ((size_t)got == cap - 1 && !strstr(buf, "\nintr "))
        return -ENOSPC;
    for (line = buf; *line; ) {
        char *next = strchr(line, '\n');

        if (next)
            *next++ = '\0';
        if (strncmp(line, "cpu", 3) == 0 && line[3] >= '0' && line[3] <= '9') {
            uint64_t value[8] = {0};
            uint64_t total = 0;
            char *cursor;
            long cpu;
            int fields;

            if (count == max_cpus)
                return -E2BIG;
            cpu = strtol(line + 3, &cursor, 10);
            for (fields = 0; fields < 8; fields++) {
                char *end;
                unsigned long long parsed = strtoull(cursor, &end, 10);

                if (end == cursor)
                    break;
                value[fields] = parsed;
                total += parsed;
                cursor = end;
            }
            out[3 * count] = cpu;
            out[3 * count + 1] = (int64_t)(total - value[3] - value[4] - value[7]);
            out[3 * count + 2] = (int64_t)total;
            count++;
        } else if (count) {
            break; /* the cpuN lines are contiguous: nothing after them matters */
        }
        if (!next)
            break;
        line = next;
    }
    return (int)count;
}

static size_t map_length(unsigned data_pages)
{
    return (1 + (size_t)data_pages) * (size_t)sysconf(_SC_PAGESIZE);
}

void *pmt_ring_map(int fd, unsigned data_pages)
{
    void *base = mmap(NULL, map_length(data_pages), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

    return base == MAP_FAILED ? NULL : base;
}

int pmt_ring_unmap(void *base, unsigned data_pages)
{
    return munmap(base, map_length(data_pages)) < 0 ? -errno : 0;
}

/* Copy len bytes starting at ring position pos, following the wrap at the end of the data area. */
static void ring_copy(void *dst, const uint8_t *data, uint64_t size, uint64_t pos, size_t len)
{
    size_t off = pos & (size - 1);
    size_t first = len < size - off ? len : size - off;

    memcpy(dst, data + off, first);
    memcpy((uint8_t *)dst + first, data, len - first);
}

size_t pmt_ring_drain(void *base, uint8_t *out, size_t outcap, uint64_t *lost_hint)
{
    struct perf_event_mmap_page *meta = base;
    /* data_offset/data_size are filled in by every kernel since 4.1. */
    const uint8_t *data = (const uint8_t *)base + meta->data_offset;
    uint64_t size = meta->data_size;
    /* Acquire pairs with the kernel's barrier before it publishes data_head: records up to head are visible. */
    uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
    uint64_t tail = meta->data_tail;
    size_t used = 0;

    while (head - tail >= sizeof(struct perf_event_header)) {
        struct perf_event_header hdr;
        uint64_t lost;

        ring_copy(&hdr, data, size, tail, sizeof hdr);
        if (hdr.size < sizeof hdr || hdr.size > head - tail) {
            /* A torn or corrupt record: drop everything published so far rather than spin on it. */
            tail = head;
            break;
        }
        if (hdr.size > outcap - used)
            break;
        ring_copy(out + used, data, size, tail, hdr.size);
        if (lost_hint) {
            if (hdr.type == PERF_RECORD_LOST && hdr.size >= 24) {
                memcpy(&lost, out + used + 16, sizeof lost);
                *lost_hint += lost;
            } else if (hdr.type == PERF_RECORD_LOST_SAMPLES && hdr.size >= 16) {
                memcpy(&lost, out + used + 8, sizeof lost);
                *lost_hint += lost;
            }
        }
        used += hdr.size;
        tail += hdr.size;
    }
    /* Release: our reads of the records complete before the kernel may reuse their space. */
    __atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
    return used;
}
