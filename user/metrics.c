// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <microhttpd.h>

#include "dynload.h"
#include "log.h"
#include "metrics.h"
#include "parse.h"

#ifndef MCG_MICROHTTPD_SONAME
#define MCG_MICROHTTPD_SONAME "libmicrohttpd.so.12"
#endif

/* libmicrohttpd and the TLS library it links are loaded only when --metrics is given. */
static __typeof__(MHD_start_daemon) *sym_MHD_start_daemon;
static __typeof__(MHD_stop_daemon) *sym_MHD_stop_daemon;
static __typeof__(MHD_create_response_from_buffer) *sym_MHD_create_response_from_buffer;
static __typeof__(MHD_add_response_header) *sym_MHD_add_response_header;
static __typeof__(MHD_queue_response) *sym_MHD_queue_response;
static __typeof__(MHD_destroy_response) *sym_MHD_destroy_response;

static const struct mcg_dynsym microhttpd_symbols[] = {
	MCG_DYNSYM(MHD_start_daemon),		     MCG_DYNSYM(MHD_stop_daemon),
	MCG_DYNSYM(MHD_create_response_from_buffer), MCG_DYNSYM(MHD_add_response_header),
	MCG_DYNSYM(MHD_queue_response),		     MCG_DYNSYM(MHD_destroy_response),
};

struct mcg_metrics {
	struct MHD_Daemon *httpd;
	pthread_mutex_t lock;
	char *text;
};

static enum MHD_Result serve(void *cls, struct MHD_Connection *connection, const char *url,
			     const char *method, const char *version, const char *upload_data,
			     size_t *upload_size, void **state)
{
	struct mcg_metrics *metrics = cls;
	struct MHD_Response *response;
	enum MHD_Result result;
	unsigned int status = MHD_HTTP_OK;
	char *body;

	(void)version;
	(void)upload_data;
	(void)upload_size;
	(void)state;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
	else if (strcmp(url, "/metrics"))
		status = MHD_HTTP_NOT_FOUND;

	pthread_mutex_lock(&metrics->lock);
	body = strdup(status == MHD_HTTP_OK ? (metrics->text ? metrics->text : "")
					     : "see /metrics\n");
	pthread_mutex_unlock(&metrics->lock);
	if (!body)
		return MHD_NO;
	response = sym_MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	sym_MHD_add_response_header(response, "Content-Type", "text/plain; version=0.0.4");
	result = sym_MHD_queue_response(connection, status, response);
	sym_MHD_destroy_response(response);
	return result;
}

/* Split "ADDRESS:PORT" or "[ADDRESS]:PORT" into a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *addr)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(listen, ':');
	unsigned long port;
	size_t len;

	if (!colon || mcg_parse_ulong(colon + 1, 1, 65535, &port))
		return -EINVAL;
	len = colon - listen;
	if (len >= sizeof(host))
		return -EINVAL;
	memcpy(host, listen, len);
	host[len] = '\0';
	memset(addr, 0, sizeof(*addr));
	if (host[0] == '[' && host[len - 1] == ']') {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr;

		host[len - 1] = '\0';
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		return inet_pton(AF_INET6, host + 1, &in6->sin6_addr) == 1 ? 0 : -EINVAL;
	}
	((struct sockaddr_in *)addr)->sin_family = AF_INET;
	((struct sockaddr_in *)addr)->sin_port = htons(port);
	return inet_pton(AF_INET, host, &((struct sockaddr_in *)addr)->sin_addr) == 1 ? 0 : -EINVAL;
}

struct mcg_metrics *mcg_metrics_start(const char *listen)
{
	struct mcg_metrics *metrics = calloc(1, sizeof(*metrics));
	struct sockaddr_storage addr;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	if (!metrics)
		return NULL;
	if (!sym_MHD_start_daemon &&
	    mcg_dynload(MCG_MICROHTTPD_SONAME, "the metrics endpoint (--metrics)", microhttpd_symbols,
			sizeof(microhttpd_symbols) / sizeof(microhttpd_symbols[0]))) {
		free(metrics);
		return NULL;
	}
	if (parse_listen(listen, &addr)) {
		pr_err("invalid metrics address \"%s\": expected ADDRESS:PORT, as 127.0.0.1:9464 or [::1]:9464",
		       listen);
		free(metrics);
		return NULL;
	}
	if (addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	pthread_mutex_init(&metrics->lock, NULL);
	metrics->httpd = sym_MHD_start_daemon(flags, 0, NULL, NULL, serve, metrics,
					      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
					      MHD_OPTION_END);
	if (!metrics->httpd) {
		pr_err("serve metrics on %s: failed to listen (address in use, or not on this host?)",
		       listen);
		pthread_mutex_destroy(&metrics->lock);
		free(metrics);
		return NULL;
	}
	pr_info("serving Prometheus metrics on http://%s/metrics", listen);
	return metrics;
}

void mcg_metrics_publish(struct mcg_metrics *metrics, const char *text)
{
	char *copy = strdup(text);

	if (!metrics || !copy) {
		free(copy);
		return;
	}
	pthread_mutex_lock(&metrics->lock);
	free(metrics->text);
	metrics->text = copy;
	pthread_mutex_unlock(&metrics->lock);
}

void mcg_metrics_stop(struct mcg_metrics *metrics)
{
	if (!metrics)
		return;
	sym_MHD_stop_daemon(metrics->httpd);
	pthread_mutex_destroy(&metrics->lock);
	free(metrics->text);
	free(metrics);
}
