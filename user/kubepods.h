/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The daemon's Kubernetes mode: guard the pod-level cgroup of every pod on
 * this node that the label selector picks, with the policy its annotations
 * give, and remove the guard when the pod is deleted or no longer selected.
 * The pods come from the API client (kube.h). Their cgroups are found by the
 * daemon's own walks and inotify watches, which call mcg_pods_visit() for
 * every directory.
 */
#ifndef MCG_KUBEPODS_H
#define MCG_KUBEPODS_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

#include "daemon.h"
#include "mcguard.h"

/*
 * Check the settings (node name, cgroup root, API URL) and make d->pods.
 * Returns 0, or MCG_EXIT_USAGE after logging what is wrong.
 */
int mcg_pods_setup(struct daemon *d);

/* Start the API client. Returns its eventfd for the event loop, or -1 after logging. */
int mcg_pods_start(struct daemon *d);

/* Apply the pod updates the API client has queued. */
void mcg_pods_apply_updates(struct daemon *d);

/*
 * Guard the pod whose pod-level cgroup is at path, if a selected pod has
 * that cgroup. created_ns as for mcg_daemon_ensure_guard.
 */
void mcg_pods_visit(struct daemon *d, const char *path, long long created_ns);

/* After a full rescan: report selected pods whose cgroup is still missing. */
void mcg_pods_reconcile(struct daemon *d);

/* After a reload: compute every pod's policy from the new base policy. */
void mcg_pods_reload(struct daemon *d);

/* With --detach-on-exit: remove the guards of all selected pods. */
void mcg_pods_detach_all(struct daemon *d);

/* Append the pod metrics to the metrics text. */
void mcg_pods_metrics(struct daemon *d, char **text, size_t *size);

/*
 * Describe the pod that an event's guard belongs to (namespace, pod,
 * container, node), as an mcg_event_describe_fn: the member
 * ',"kubernetes":{...}' of the event's JSON object, or " pod=NS/NAME ..."
 * text for the end of its line. context is d->pods. Adds nothing (returns 0)
 * for the guards of other cgroups.
 */
size_t mcg_pods_describe_event(void *context, const struct mcg_event *event, bool json,
			       char *out, size_t size);

/* Stop the API client and free d->pods. */
void mcg_pods_stop(struct daemon *d);

#endif
