// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "curlsym.h"
#include "kube.h"
#include "log.h"

#define LIST_PAGE_LIMIT 500
/*
 * The API server ends a watch after this many seconds. client-go's reflector
 * picks 5 to 10 minutes.
 */
#define WATCH_TIMEOUT_SECONDS 300
#define CONNECT_TIMEOUT_SECONDS 10
#define LIST_TIMEOUT_SECONDS 60
#define EVENT_TIMEOUT_SECONDS 10
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
/* A watch that ran this long counts as healthy: the next failure starts a fresh backoff. */
#define HEALTHY_WATCH_NS (30 * 1000000000ll)
#define MAX_BODY_BYTES (64u << 20)
#define MAX_POSTS_IN_FLIGHT 4
#define MAX_QUEUED_EVENTS 256
/* Pod objects nest deeper than json-c's default of 32 in metadata.managedFields. */
#define JSON_MAX_DEPTH 128
/*
 * The API server's validation rejects longer Event messages (NoteLengthLimit
 * in k8s.io/kubernetes pkg/apis/core/validation).
 */
#define EVENT_MESSAGE_MAX 1024

enum transfer_kind { TRANSFER_LIST, TRANSFER_WATCH, TRANSFER_EVENT };

struct transfer {
	struct mcg_kube_client *client;
	enum transfer_kind kind;
	CURL *easy;
	struct curl_slist *headers;
	char *body; /* a list page, an error status or an Event response */
	size_t body_len;
	char *payload; /* the Event being posted */
	char subject[320]; /* "namespace/pod" of an Event, for logs */
	json_tokener *tokener; /* the watch stream */
	long long started_ns;
	unsigned long events; /* watch events handled */
	bool gone;            /* an ERROR event with code 410 */
	char failure[256];    /* what ended the watch from inside the stream */
	char error_buffer[CURL_ERROR_SIZE];
};

struct queued_event {
	struct {
		char namespace[64];
		char name[254];
		char uid[40];
	} pod;
	bool warning;
	char reason[64];
	char message[EVENT_MESSAGE_MAX];
};

struct mcg_kube_client {
	struct mcg_kube_settings settings;
	char api_url[512];
	char token_path[PATH_MAX + 8];
	char ca_path[PATH_MAX + 8];
	bool have_ca;
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;
	int event_fd;
	CURLM *multi;
	CURL *escaper; /* for curl_easy_escape only */

	/* Shared with the daemon's thread, under lock. */
	pthread_mutex_t lock;
	struct mcg_kube_update *updates;
	size_t update_count;
	struct queued_event *outgoing;
	size_t outgoing_count;
	struct mcg_kube_stats stats;

	/* The client thread's own state. */
	struct transfer *stream; /* the list page or watch in progress */
	struct transfer *posts[MAX_POSTS_IN_FLIGHT];
	char resource_version[64]; /* "" until a list completed */
	char *continue_token;      /* of the next list page, or NULL */
	struct mcg_pod *listed;    /* pods of the pages so far */
	size_t listed_count;
	long long next_attempt_ns;
	unsigned int backoff_ms;
	bool token_warned;
};

static long long monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

int mcg_kube_api_url(const struct mcg_kube_settings *settings, char *url, size_t size, char *error,
		     size_t error_size)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	size_t len;

	if (settings->api_server[0]) {
		snprintf(url, size, "%s", settings->api_server);
	} else if (host && host[0]) {
		/* An IPv6 service address needs brackets in a URL. */
		bool ipv6 = strchr(host, ':') != NULL;

		snprintf(url, size, "https://%s%s%s:%s", ipv6 ? "[" : "", host, ipv6 ? "]" : "",
			 port && port[0] ? port : "443");
	} else {
		snprintf(error, error_size,
			 "no API server: KUBERNETES_SERVICE_HOST is not set, so mcguard does not run in a pod; set --api-server or api_server in the kubernetes group");
		return -EINVAL;
	}
	len = strlen(url);
	while (len > 0 && url[len - 1] == '/')
		url[--len] = '\0';
	return 0;
}

/* Read the service account token into buf, without trailing whitespace. */
static int read_token(struct mcg_kube_client *client, char *buf, size_t size)
{
	FILE *file = fopen(client->token_path, "re");
	size_t len;

	if (!file) {
		if (!client->token_warned)
			pr_err("kubernetes: cannot read the service account token %s: %s",
			       client->token_path, strerror(errno));
		client->token_warned = true;
		return -errno;
	}
	len = fread(buf, 1, size - 1, file);
	fclose(file);
	buf[len] = '\0';
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	if (!len) {
		if (!client->token_warned)
			pr_err("kubernetes: the service account token %s is empty", client->token_path);
		client->token_warned = true;
		return -ENODATA;
	}
	client->token_warned = false;
	return 0;
}

static void count_stat(struct mcg_kube_client *client, unsigned long *counter)
{
	pthread_mutex_lock(&client->lock);
	(*counter)++;
	pthread_mutex_unlock(&client->lock);
}

/* Hand updates to the daemon's thread and wake it. */
static void push_updates(struct mcg_kube_client *client, const struct mcg_kube_update *updates,
			 size_t n)
{
	struct mcg_kube_update *grown;
	uint64_t one = 1;

	pthread_mutex_lock(&client->lock);
	grown = realloc(client->updates, (client->update_count + n) * sizeof(*grown));
	if (!grown) {
		pthread_mutex_unlock(&client->lock);
		pr_err("kubernetes: out of memory for %zu pod updates: they are lost until the next list",
		       n);
		client->resource_version[0] = '\0';
		return;
	}
	client->updates = grown;
	memcpy(client->updates + client->update_count, updates, n * sizeof(*updates));
	client->update_count += n;
	pthread_mutex_unlock(&client->lock);
	if (write(client->event_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_warn("kubernetes: wake the daemon: %s", strerror(errno));
}

static void free_transfer(struct transfer *t)
{
	if (!t)
		return;
	if (t->easy) {
		sym_curl_multi_remove_handle(t->client->multi, t->easy);
		sym_curl_easy_cleanup(t->easy);
	}
	sym_curl_slist_free_all(t->headers);
	if (t->tokener)
		json_tokener_free(t->tokener);
	free(t->body);
	free(t->payload);
	free(t);
}

static bool append_body(struct transfer *t, const char *data, size_t n)
{
	char *grown;

	if (t->body_len + n + 1 > MAX_BODY_BYTES) {
		snprintf(t->failure, sizeof(t->failure), "response larger than %u bytes",
			 MAX_BODY_BYTES);
		return false;
	}
	grown = realloc(t->body, t->body_len + n + 1);
	if (!grown)
		return false;
	t->body = grown;
	memcpy(t->body + t->body_len, data, n);
	t->body_len += n;
	t->body[t->body_len] = '\0';
	return true;
}

static const char *string_at(json_object *object, const char *key)
{
	json_object *value;

	if (!object || !json_object_object_get_ex(object, key, &value) ||
	    !json_object_is_type(value, json_type_string))
		return NULL;
	return json_object_get_string(value);
}

static json_object *object_at(json_object *object, const char *key)
{
	json_object *value;

	if (!object || !json_object_object_get_ex(object, key, &value))
		return NULL;
	return value;
}

static void set_resource_version(struct mcg_kube_client *client, const char *version)
{
	if (version && version[0])
		snprintf(client->resource_version, sizeof(client->resource_version), "%s", version);
}

/* Handle one event of the watch stream. Returns false when the event ends the watch. */
static bool handle_watch_event(struct transfer *t, json_object *event)
{
	struct mcg_kube_client *client = t->client;
	const char *type = string_at(event, "type");
	json_object *object = object_at(event, "object");
	struct mcg_kube_update update = { 0 };
	char error[256];

	if (!type || !object) {
		snprintf(t->failure, sizeof(t->failure), "a watch event without type or object");
		return false;
	}
	t->events++;
	if (!strcmp(type, "BOOKMARK")) {
		set_resource_version(client, string_at(object_at(object, "metadata"), "resourceVersion"));
		return true;
	}
	if (!strcmp(type, "ERROR")) {
		json_object *code = object_at(object, "code");
		const char *message = string_at(object, "message");

		if (code && json_object_get_int(code) == 410) {
			t->gone = true;
			return false;
		}
		snprintf(t->failure, sizeof(t->failure), "ERROR event, code %d: %s",
			 code ? json_object_get_int(code) : 0, message ? message : "no message");
		return false;
	}
	if (strcmp(type, "ADDED") && strcmp(type, "MODIFIED") && strcmp(type, "DELETED")) {
		pr_warn("kubernetes: skipping a watch event of unknown type \"%.32s\"", type);
		return true;
	}

	if (mcg_pod_from_json(object, &update.pod, error, sizeof(error))) {
		pr_warn("kubernetes: skipping a watch event (%s): %s", type, error);
		set_resource_version(client, string_at(object_at(object, "metadata"), "resourceVersion"));
		return true;
	}
	update.type = strcmp(type, "DELETED") ? MCG_KUBE_UPSERT : MCG_KUBE_DELETE;
	push_updates(client, &update, 1);
	set_resource_version(client, update.pod.resource_version);
	return true;
}

/*
 * Parse the watch stream incrementally, because an event may span chunks and
 * a chunk may hold several events.
 */
static bool parse_watch_stream(struct transfer *t, const char *data, size_t n)
{
	size_t offset = 0;

	while (offset < n) {
		json_object *event = json_tokener_parse_ex(t->tokener, data + offset, n - offset);
		enum json_tokener_error err = json_tokener_get_error(t->tokener);
		bool keep_going;

		if (err == json_tokener_continue)
			return true;
		if (err != json_tokener_success) {
			snprintf(t->failure, sizeof(t->failure), "invalid JSON in the watch stream: %s",
				 json_tokener_error_desc(err));
			return false;
		}
		offset += json_tokener_get_parse_end(t->tokener);
		json_tokener_reset(t->tokener);
		keep_going = handle_watch_event(t, event);
		json_object_put(event);
		if (!keep_going)
			return false;
	}
	return true;
}

static size_t on_data(char *data, size_t one, size_t n, void *opaque)
{
	struct transfer *t = opaque;
	long status = 0;

	(void)one;
	sym_curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	if (t->kind == TRANSFER_WATCH && status == 200)
		return parse_watch_stream(t, data, n) ? n : 0;
	return append_body(t, data, n) ? n : 0;
}

/* Append "?name=value" or "&name=value" to the URL in *url, with value escaped. */
static int add_param(CURL *easy, char **url, const char *name, const char *value)
{
	char *escaped = sym_curl_easy_escape(easy, value, 0), *grown;
	int len;

	if (!escaped || !*url)
		goto fail;
	len = asprintf(&grown, "%s%s%s=%s", *url, strchr(*url, '?') ? "&" : "?", name, escaped);
	sym_curl_free(escaped);
	if (len < 0)
		goto fail;
	free(*url);
	*url = grown;
	return 0;
fail:
	free(*url);
	*url = NULL;
	return -ENOMEM;
}

static struct transfer *new_transfer(struct mcg_kube_client *client, enum transfer_kind kind,
				     const char *url, long timeout_seconds)
{
	struct transfer *t = calloc(1, sizeof(*t));
	char token[8192], header[8300];

	if (!t)
		return NULL;
	t->client = client;
	t->kind = kind;
	t->started_ns = monotonic_ns();
	if (read_token(client, token, sizeof(token)) || !(t->easy = sym_curl_easy_init())) {
		free_transfer(t);
		return NULL;
	}
	snprintf(header, sizeof(header), "Authorization: Bearer %s", token);
	explicit_bzero(token, sizeof(token));
	t->headers = sym_curl_slist_append(t->headers, header);
	explicit_bzero(header, sizeof(header));
	t->headers = sym_curl_slist_append(t->headers, "Accept: application/json");
	if (kind == TRANSFER_EVENT)
		t->headers = sym_curl_slist_append(t->headers, "Content-Type: application/json");

	sym_curl_easy_setopt(t->easy, CURLOPT_URL, url);
	sym_curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
	sym_curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "mcguard/" MCG_VERSION);
	sym_curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_data);
	sym_curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
	sym_curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	sym_curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->error_buffer);
	sym_curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
	sym_curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_SECONDS);
	sym_curl_easy_setopt(t->easy, CURLOPT_TIMEOUT, timeout_seconds);
	sym_curl_easy_setopt(t->easy, CURLOPT_TCP_KEEPALIVE, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	sym_curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "https");
#else
	sym_curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	if (client->have_ca)
		sym_curl_easy_setopt(t->easy, CURLOPT_CAINFO, client->ca_path);
	return t;
}

/* The pod list or watch URL: the selectors of this node, then the request's own parameters. */
static char *pods_url(struct mcg_kube_client *client, bool watch)
{
	char field_selector[300], number[32];
	char *url = NULL;

	if (asprintf(&url, "%s/api/v1/pods", client->api_url) < 0)
		return NULL;
	snprintf(field_selector, sizeof(field_selector), "spec.nodeName=%s",
		 client->settings.node_name);
	add_param(client->escaper, &url, "labelSelector", client->settings.selector);
	add_param(client->escaper, &url, "fieldSelector", field_selector);
	if (watch) {
		snprintf(number, sizeof(number), "%d", WATCH_TIMEOUT_SECONDS);
		add_param(client->escaper, &url, "watch", "true");
		add_param(client->escaper, &url, "resourceVersion", client->resource_version);
		add_param(client->escaper, &url, "allowWatchBookmarks", "true");
		add_param(client->escaper, &url, "timeoutSeconds", number);
	} else {
		snprintf(number, sizeof(number), "%d", LIST_PAGE_LIMIT);
		add_param(client->escaper, &url, "limit", number);
		if (client->continue_token)
			add_param(client->escaper, &url, "continue", client->continue_token);
	}
	return url;
}

static void start_transfer(struct mcg_kube_client *client, struct transfer *t)
{
	CURLMcode err = sym_curl_multi_add_handle(client->multi, t->easy);

	if (err != CURLM_OK)
		pr_err("kubernetes: start a request: %s", sym_curl_multi_strerror(err));
}

static void schedule_retry(struct mcg_kube_client *client)
{
	/* Up to a fifth more, so the DaemonSet's pods do not retry in step. */
	unsigned int spread = client->backoff_ms / 5;
	unsigned int jitter = spread ? (unsigned int)random() % spread : 0;

	client->next_attempt_ns = monotonic_ns() + (client->backoff_ms + jitter) * 1000000ll;
	client->backoff_ms = client->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
								      : client->backoff_ms * 2;
}

static void start_stream(struct mcg_kube_client *client)
{
	bool watch = client->resource_version[0] != '\0';
	char *url = pods_url(client, watch);

	client->stream = url ? new_transfer(client, watch ? TRANSFER_WATCH : TRANSFER_LIST, url,
					    watch ? WATCH_TIMEOUT_SECONDS + 60
						  : LIST_TIMEOUT_SECONDS)
			     : NULL;
	free(url);
	if (!client->stream) {
		schedule_retry(client);
		return;
	}
	if (watch) {
		client->stream->tokener = json_tokener_new_ex(JSON_MAX_DEPTH);
		count_stat(client, &client->stats.watches);
		pr_debug("kubernetes: watching pods from resourceVersion %s", client->resource_version);
	}
	start_transfer(client, client->stream);
}

/* The message of a Status object in an error response, or the HTTP status alone. */
static void describe_status(const struct transfer *t, long status, char *out, size_t size)
{
	json_object *body = t->body ? json_tokener_parse(t->body) : NULL;
	const char *message = string_at(body, "message");

	if (message)
		snprintf(out, size, "HTTP %ld: %s", status, message);
	else
		snprintf(out, size, "HTTP %ld", status);
	json_object_put(body);
}

static void forget_listed(struct mcg_kube_client *client)
{
	free(client->listed);
	client->listed = NULL;
	client->listed_count = 0;
	free(client->continue_token);
	client->continue_token = NULL;
}

/* Add the pods of one PodList page. Returns 0, or -EINVAL with the reason in error. */
static int collect_page(struct mcg_kube_client *client, json_object *list, char *error,
			size_t size)
{
	json_object *items = object_at(list, "items");
	size_t n = items && json_object_is_type(items, json_type_array) ?
			   json_object_array_length(items) : 0;
	struct mcg_pod *grown;

	if (!items || (!json_object_is_type(items, json_type_array) &&
		       !json_object_is_type(items, json_type_null))) {
		snprintf(error, size, "the response is not a PodList");
		return -EINVAL;
	}
	grown = realloc(client->listed, (client->listed_count + n + 1) * sizeof(*grown));
	if (!grown) {
		snprintf(error, size, "out of memory for %zu pods", client->listed_count + n);
		return -ENOMEM;
	}
	client->listed = grown;
	for (size_t i = 0; i < n; i++) {
		char reason[256];

		if (mcg_pod_from_json(json_object_array_get_idx(items, i),
				      &client->listed[client->listed_count], reason, sizeof(reason)))
			pr_warn("kubernetes: skipping a listed pod: %s", reason);
		else
			client->listed_count++;
	}
	return 0;
}

/* Hand a complete list to the daemon as one batch. */
static void deliver_list(struct mcg_kube_client *client)
{
	size_t n = client->listed_count + 2;
	struct mcg_kube_update *batch = calloc(n, sizeof(*batch));

	if (!batch) {
		pr_err("kubernetes: out of memory for a list of %zu pods", client->listed_count);
		return;
	}
	batch[0].type = MCG_KUBE_LIST_BEGIN;
	for (size_t i = 0; i < client->listed_count; i++) {
		batch[i + 1].type = MCG_KUBE_UPSERT;
		batch[i + 1].pod = client->listed[i];
	}
	batch[n - 1].type = MCG_KUBE_LIST_END;
	push_updates(client, batch, n);
	free(batch);
}

/* A list page that failed: start the list again, at once after 410 Gone, else after backoff. */
static void fail_list(struct mcg_kube_client *client, struct transfer *t, CURLcode result,
		      long status)
{
	bool expired = status == 410 && client->continue_token;
	char error[512];

	if (result != CURLE_OK)
		snprintf(error, sizeof(error), "%s", t->error_buffer[0] ? t->error_buffer
							       : sym_curl_easy_strerror(result));
	else
		describe_status(t, status, error, sizeof(error));
	count_stat(client, &client->stats.request_errors);
	forget_listed(client);
	/* An expired continue token means the snapshot is gone: list from the start. */
	if (expired) {
		pr_info("kubernetes: the list snapshot expired (410 Gone): listing from the start");
		return;
	}
	pr_warn("kubernetes: listing pods failed: %s; retrying in %u ms", error, client->backoff_ms);
	schedule_retry(client);
}

static void finish_list(struct mcg_kube_client *client, struct transfer *t, CURLcode result,
			long status)
{
	json_object *list = NULL;
	const char *next, *version;
	char error[512];

	if (result != CURLE_OK || status != 200) {
		fail_list(client, t, result, status);
		return;
	}

	list = t->body ? json_tokener_parse(t->body) : NULL;
	if (!list || collect_page(client, list, error, sizeof(error))) {
		json_object_put(list);
		forget_listed(client);
		count_stat(client, &client->stats.request_errors);
		pr_warn("kubernetes: listing pods failed: %s; retrying in %u ms",
			list ? error : "the response is not JSON", client->backoff_ms);
		schedule_retry(client);
		return;
	}
	next = string_at(object_at(list, "metadata"), "continue");
	version = string_at(object_at(list, "metadata"), "resourceVersion");
	if (next && next[0]) {
		free(client->continue_token);
		client->continue_token = strdup(next);
		json_object_put(list);
		if (!client->continue_token) {
			forget_listed(client);
			schedule_retry(client);
		}
		return;
	}

	deliver_list(client);
	pr_info("kubernetes: listed %zu pod%s on node %s matching %s (resourceVersion %s)",
		client->listed_count, client->listed_count == 1 ? "" : "s",
		client->settings.node_name, client->settings.selector, version ? version : "none");
	set_resource_version(client, version);
	if (!version || !version[0])
		snprintf(client->resource_version, sizeof(client->resource_version), "0");
	forget_listed(client);
	count_stat(client, &client->stats.lists);
	client->backoff_ms = BACKOFF_MIN_MS;
	json_object_put(list);
}

static void finish_watch(struct mcg_kube_client *client, struct transfer *t, CURLcode result,
			 long status)
{
	char error[512];

	if (t->gone || status == 410) {
		pr_info("kubernetes: resourceVersion %s is too old (410 Gone): listing the pods again",
			client->resource_version);
		client->resource_version[0] = '\0';
		count_stat(client, &client->stats.relists_gone);
		return;
	}
	if (result == CURLE_OK && status == 200 && !t->failure[0]) {
		pr_debug("kubernetes: the watch ended after %lu events; watching again",
			 t->events);
		client->backoff_ms = BACKOFF_MIN_MS;
		return;
	}

	if (t->failure[0])
		snprintf(error, sizeof(error), "%s", t->failure);
	else if (status != 200 && status != 0)
		describe_status(t, status, error, sizeof(error));
	else
		snprintf(error, sizeof(error), "%s", t->error_buffer[0] ? t->error_buffer
							       : sym_curl_easy_strerror(result));
	count_stat(client, &client->stats.request_errors);
	if (monotonic_ns() - t->started_ns >= HEALTHY_WATCH_NS)
		client->backoff_ms = BACKOFF_MIN_MS;
	if (status == 401 || status == 403)
		pr_warn("kubernetes: the API server rejected the watch (%s); the token is read again from %s, retrying in %u ms",
			error, client->token_path, client->backoff_ms);
	else
		pr_warn("kubernetes: the watch of pods ended: %s; watching again from resourceVersion %s in %u ms",
			error, client->resource_version, client->backoff_ms);
	schedule_retry(client);
}

static void finish_post(struct mcg_kube_client *client, struct transfer *t, CURLcode result,
			long status)
{
	char error[512];

	if (result == CURLE_OK && status >= 200 && status < 300) {
		count_stat(client, &client->stats.events_posted);
		return;
	}
	if (result != CURLE_OK)
		snprintf(error, sizeof(error), "%s", t->error_buffer[0] ? t->error_buffer
							       : sym_curl_easy_strerror(result));
	else
		describe_status(t, status, error, sizeof(error));
	count_stat(client, &client->stats.events_failed);
	pr_warn("kubernetes: posting an Event about pod %s failed: %s", t->subject, error);
}

static void finish_transfers(struct mcg_kube_client *client)
{
	CURLMsg *message;
	int left;

	while ((message = sym_curl_multi_info_read(client->multi, &left))) {
		struct transfer *t = NULL;
		long status = 0;

		if (message->msg != CURLMSG_DONE)
			continue;
		sym_curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		sym_curl_easy_getinfo(message->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		if (t->kind == TRANSFER_LIST)
			finish_list(client, t, message->data.result, status);
		else if (t->kind == TRANSFER_WATCH)
			finish_watch(client, t, message->data.result, status);
		else
			finish_post(client, t, message->data.result, status);

		if (t == client->stream)
			client->stream = NULL;
		for (int i = 0; i < MAX_POSTS_IN_FLIGHT; i++)
			if (client->posts[i] == t)
				client->posts[i] = NULL;
		free_transfer(t);
	}
}

static void format_now(char *buf, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The body of a core/v1 Event, named as client-go names them: POD.HEXNANOSECONDS. */
static char *event_payload(struct mcg_kube_client *client, const struct queued_event *event)
{
	json_object *root = json_object_new_object(), *metadata = json_object_new_object();
	json_object *involved = json_object_new_object(), *source = json_object_new_object();
	struct timespec ts;
	char name[300], now[32];
	char *text;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(name, sizeof(name), "%.200s.%llx", event->pod.name,
		 (unsigned long long)ts.tv_sec * 1000000000ull + ts.tv_nsec);
	format_now(now, sizeof(now));

	json_object_object_add(metadata, "name", json_object_new_string(name));
	json_object_object_add(metadata, "namespace", json_object_new_string(event->pod.namespace));
	json_object_object_add(involved, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(involved, "kind", json_object_new_string("Pod"));
	json_object_object_add(involved, "namespace", json_object_new_string(event->pod.namespace));
	json_object_object_add(involved, "name", json_object_new_string(event->pod.name));
	json_object_object_add(involved, "uid", json_object_new_string(event->pod.uid));
	json_object_object_add(source, "component", json_object_new_string("mcguard"));
	json_object_object_add(source, "host", json_object_new_string(client->settings.node_name));

	json_object_object_add(root, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(root, "kind", json_object_new_string("Event"));
	json_object_object_add(root, "metadata", metadata);
	json_object_object_add(root, "involvedObject", involved);
	json_object_object_add(root, "reason", json_object_new_string(event->reason));
	json_object_object_add(root, "message", json_object_new_string(event->message));
	json_object_object_add(root, "type", json_object_new_string(event->warning ? "Warning"
										     : "Normal"));
	json_object_object_add(root, "source", source);
	json_object_object_add(root, "reportingComponent", json_object_new_string("mcguard"));
	json_object_object_add(root, "reportingInstance",
			       json_object_new_string(client->settings.node_name));
	json_object_object_add(root, "firstTimestamp", json_object_new_string(now));
	json_object_object_add(root, "lastTimestamp", json_object_new_string(now));
	json_object_object_add(root, "count", json_object_new_int(1));
	text = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
	return text;
}

/* Start posting queued Events while a slot is free. */
static void start_posts(struct mcg_kube_client *client)
{
	for (int slot = 0; slot < MAX_POSTS_IN_FLIGHT; slot++) {
		struct queued_event event;
		struct transfer *t;
		char url[1024];

		if (client->posts[slot])
			continue;
		pthread_mutex_lock(&client->lock);
		if (!client->outgoing_count) {
			pthread_mutex_unlock(&client->lock);
			return;
		}
		event = client->outgoing[0];
		memmove(client->outgoing, client->outgoing + 1,
			--client->outgoing_count * sizeof(*client->outgoing));
		pthread_mutex_unlock(&client->lock);

		snprintf(url, sizeof(url), "%s/api/v1/namespaces/%s/events", client->api_url,
			 event.pod.namespace);
		t = new_transfer(client, TRANSFER_EVENT, url, EVENT_TIMEOUT_SECONDS);
		if (!t) {
			count_stat(client, &client->stats.events_failed);
			continue;
		}
		snprintf(t->subject, sizeof(t->subject), "%s/%s", event.pod.namespace,
			 event.pod.name);
		t->payload = event_payload(client, &event);
		sym_curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->payload);
		client->posts[slot] = t;
		start_transfer(client, t);
	}
}

static void *run_client(void *opaque)
{
	struct mcg_kube_client *client = opaque;

	while (!atomic_load(&client->stop)) {
		long long now = monotonic_ns(), wait_ms = 1000;
		int running;

		if (!client->stream && now >= client->next_attempt_ns)
			start_stream(client);
		start_posts(client);
		sym_curl_multi_perform(client->multi, &running);
		finish_transfers(client);

		if (!client->stream && client->next_attempt_ns > now)
			wait_ms = (client->next_attempt_ns - now) / 1000000 + 1;
		else if (!client->stream)
			wait_ms = 0;
		if (wait_ms > 1000)
			wait_ms = 1000;
		sym_curl_multi_poll(client->multi, NULL, 0, (int)wait_ms, NULL);
	}
	return NULL;
}

struct mcg_kube_client *mcg_kube_client_start(const struct mcg_kube_settings *settings,
					      const char *api_url)
{
	struct mcg_kube_client *client = calloc(1, sizeof(*client));
	int err;

	if (!client)
		return NULL;
	client->settings = *settings;
	client->event_fd = -1;
	client->backoff_ms = BACKOFF_MIN_MS;
	snprintf(client->api_url, sizeof(client->api_url), "%s", api_url);
	snprintf(client->token_path, sizeof(client->token_path), "%s/token",
		 settings->service_account_dir);
	snprintf(client->ca_path, sizeof(client->ca_path), "%s/ca.crt",
		 settings->service_account_dir);
	client->have_ca = access(client->ca_path, R_OK) == 0;
	if (!client->have_ca)
		pr_warn("kubernetes: no %s: the API server's certificate is checked against the system's CA certificates",
			client->ca_path);
	pthread_mutex_init(&client->lock, NULL);
	srandom((unsigned int)monotonic_ns());

	client->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	client->multi = sym_curl_multi_init();
	client->escaper = sym_curl_easy_init();
	if (client->event_fd < 0 || !client->multi || !client->escaper) {
		pr_err("kubernetes: set up the API client: %s", strerror(errno));
		mcg_kube_client_stop(client);
		return NULL;
	}
	err = pthread_create(&client->thread, NULL, run_client, client);
	if (err) {
		pr_err("kubernetes: start the API client thread: %s", strerror(err));
		mcg_kube_client_stop(client);
		return NULL;
	}
	client->thread_started = true;
	return client;
}

int mcg_kube_client_fd(struct mcg_kube_client *client)
{
	return client->event_fd;
}

size_t mcg_kube_client_take(struct mcg_kube_client *client, struct mcg_kube_update **updates)
{
	uint64_t value;
	size_t n;

	if (read(client->event_fd, &value, sizeof(value)) < 0 && errno != EAGAIN)
		pr_warn("kubernetes: read the eventfd: %s", strerror(errno));
	pthread_mutex_lock(&client->lock);
	*updates = client->updates;
	n = client->update_count;
	client->updates = NULL;
	client->update_count = 0;
	pthread_mutex_unlock(&client->lock);
	return n;
}

void mcg_kube_client_post_event(struct mcg_kube_client *client, const struct mcg_pod *pod,
				bool warning, const char *reason, const char *message)
{
	struct queued_event *slot;

	if (!client || !client->settings.post_events)
		return;
	pthread_mutex_lock(&client->lock);
	if (client->outgoing_count >= MAX_QUEUED_EVENTS) {
		client->stats.events_failed++;
		pthread_mutex_unlock(&client->lock);
		pr_warn("kubernetes: %d Events wait to be posted: dropping %s about pod %s/%s",
			MAX_QUEUED_EVENTS, reason, pod->namespace, pod->name);
		return;
	}
	if (!client->outgoing)
		client->outgoing = calloc(MAX_QUEUED_EVENTS, sizeof(*client->outgoing));
	if (!client->outgoing) {
		pthread_mutex_unlock(&client->lock);
		return;
	}
	slot = &client->outgoing[client->outgoing_count++];
	memset(slot, 0, sizeof(*slot));
	snprintf(slot->pod.namespace, sizeof(slot->pod.namespace), "%s", pod->namespace);
	snprintf(slot->pod.name, sizeof(slot->pod.name), "%s", pod->name);
	snprintf(slot->pod.uid, sizeof(slot->pod.uid), "%s", pod->uid);
	slot->warning = warning;
	snprintf(slot->reason, sizeof(slot->reason), "%s", reason);
	snprintf(slot->message, sizeof(slot->message), "%s", message);
	pthread_mutex_unlock(&client->lock);
	sym_curl_multi_wakeup(client->multi);
}

void mcg_kube_client_stats(struct mcg_kube_client *client, struct mcg_kube_stats *stats)
{
	pthread_mutex_lock(&client->lock);
	*stats = client->stats;
	pthread_mutex_unlock(&client->lock);
}

void mcg_kube_client_stop(struct mcg_kube_client *client)
{
	if (!client)
		return;
	if (client->thread_started) {
		atomic_store(&client->stop, true);
		sym_curl_multi_wakeup(client->multi);
		pthread_join(client->thread, NULL);
	}
	free_transfer(client->stream);
	for (int i = 0; i < MAX_POSTS_IN_FLIGHT; i++)
		free_transfer(client->posts[i]);
	if (client->multi)
		sym_curl_multi_cleanup(client->multi);
	if (client->escaper)
		sym_curl_easy_cleanup(client->escaper);
	if (client->event_fd >= 0)
		close(client->event_fd);
	forget_listed(client);
	free(client->updates);
	free(client->outgoing);
	pthread_mutex_destroy(&client->lock);
	free(client);
}
