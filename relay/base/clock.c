/* The two clocks: monotonic milliseconds for intervals, the wall clock as
 * ISO 8601 UTC for what people and logs read. */
#include <stdio.h>
#include <time.h>
#include <uv.h>

#include "base.h"

uint64_t relay_now_ms(void)
{
	return uv_hrtime() / 1000000;
}

void relay_iso8601_now(char *buf, size_t len, bool millis)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (millis)
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 ts.tv_nsec / 1000000);
	else
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
