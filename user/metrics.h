/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The daemon's Prometheus endpoint, served by libmicrohttpd from a snapshot. */
#ifndef MCG_METRICS_H
#define MCG_METRICS_H

struct mcg_metrics;

/* Listen on "ADDRESS:PORT" ("[::1]:9464" for IPv6). Logs and returns NULL on failure. */
struct mcg_metrics *mcg_metrics_start(const char *listen);

/* Replace the text the endpoint serves; the caller keeps text. */
void mcg_metrics_publish(struct mcg_metrics *metrics, const char *text);

void mcg_metrics_stop(struct mcg_metrics *metrics);

#endif
