/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A Kubernetes API client for the daemon: it lists, then watches, the pods
 * of one node that match a label selector, and posts Events about them. It
 * runs in its own thread with libcurl, so a slow or unreachable API server
 * never delays the daemon's event loop. The loop takes the pod updates when
 * the client's eventfd becomes readable.
 *
 * It behaves like client-go's reflector: a list (in pages) gives the full
 * set and a resourceVersion, a watch from that resourceVersion gives the
 * changes, a watch that ends is resumed from the last resourceVersion seen
 * (BOOKMARK events move it forward), and 410 Gone starts a new list.
 * Failures are retried with exponential backoff. The service account token
 * is read from its file before every request, because kubelet rotates it.
 */
#ifndef MCG_KUBE_H
#define MCG_KUBE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "pod.h"

enum mcg_kube_update_type {
	MCG_KUBE_LIST_BEGIN, /* a full list follows: pods it does not name are gone */
	MCG_KUBE_UPSERT,     /* a pod was listed, added or modified */
	MCG_KUBE_DELETE,     /* a pod was deleted or stopped matching the selector */
	MCG_KUBE_LIST_END,
};

struct mcg_kube_update {
	enum mcg_kube_update_type type;
	struct mcg_pod pod; /* for UPSERT and DELETE */
};

/* Counters since the client started, for the metrics endpoint. */
struct mcg_kube_stats {
	unsigned long lists;          /* complete lists */
	unsigned long relists_gone;   /* lists started because of 410 Gone */
	unsigned long watches;        /* watch requests started */
	unsigned long request_errors; /* requests that failed or got an error status */
	unsigned long events_posted;
	unsigned long events_failed;  /* Events the API rejected, could not reach, or dropped */
};

struct mcg_kube_client;

/*
 * The base URL of the API server: settings->api_server, or else
 * https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT as in-cluster
 * clients build it. Returns 0, or -EINVAL with a message in error[error_size].
 */
int mcg_kube_api_url(const struct mcg_kube_settings *settings, char *url, size_t size, char *error,
		     size_t error_size);

/*
 * Start the client thread for settings (node_name must be set) against
 * api_url. Logs and returns NULL on failure.
 */
struct mcg_kube_client *mcg_kube_client_start(const struct mcg_kube_settings *settings,
					      const char *api_url);

/* An eventfd that is readable while updates are waiting. */
int mcg_kube_client_fd(struct mcg_kube_client *client);

/*
 * Move the waiting updates to *updates (the caller frees it) and return how
 * many there are. A list always arrives whole, from LIST_BEGIN to LIST_END.
 */
size_t mcg_kube_client_take(struct mcg_kube_client *client, struct mcg_kube_update **updates);

/*
 * Queue a core/v1 Event about pod, with type Warning or Normal. Posting is
 * best effort: failures are logged and counted, never retried.
 */
void mcg_kube_client_post_event(struct mcg_kube_client *client, const struct mcg_pod *pod,
				bool warning, const char *reason, const char *message);

void mcg_kube_client_stats(struct mcg_kube_client *client, struct mcg_kube_stats *stats);

/* Stop the thread, abort open requests and free the client, which may be NULL. */
void mcg_kube_client_stop(struct mcg_kube_client *client);

#endif
