/* The task the guest follows: pinned to CPU 0 and idle for SETTLE seconds (as an interpreter's start-up
 * would be: pmutop ticks undisturbed meanwhile), busy there for SECONDS, then pinned to CPU 1, busy again.
 * A static binary rather than `python3 -c`, because starting an interpreter under TCG costs seconds
 * of host time per run; the guest runs this twice (stat and record). */
#define _GNU_SOURCE
#include <sched.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

static void spin(double seconds)
{
	double end = now() + seconds;
	while (now() < end)
		;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 0.5;
	double settle = argc > 2 ? atof(argv[2]) : 0.0;
	struct timespec pause = {(time_t)settle, (long)((settle - (time_t)settle) * 1e9)};
	if (pin(0) != 0)
		return 1;
	nanosleep(&pause, NULL);
	spin(seconds);
	if (pin(1) != 0)
		return 1;
	spin(seconds);
	return 0;
}
