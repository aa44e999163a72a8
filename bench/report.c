/* SPDX-License-Identifier: ISC */
/*
 * report.c: nbmqbench's output: the machine it ran on, the table
 * for people and the JSON for scripts, ratios to the baselines.
 */
#include "bench.h"

/* ---- output ---- */

char	 cpu_model[160] = "unknown", kernel[300] = "unknown";
long	 ncpu;
char	 started[64], load_start[64], load_end[64];

void
loadavg(char *buf, size_t len)
{
	FILE	*f = fopen("/proc/loadavg", "r");

	snprintf(buf, len, "?");
	if (f == NULL)
		return;
	if (fgets(buf, (int)len, f) != NULL) {
		char	*p = buf;

		/* the three averages only */
		for (int i = 0; i < 3 && p != NULL; i++)
			p = strchr(p + 1, ' ');
		if (p != NULL)
			*p = '\0';
	}
	fclose(f);
}

void
machine_info(void)
{
	struct utsname	 u;
	char		 line[256];
	FILE		*f;
	time_t		 t = time(NULL);

	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (uname(&u) == 0)
		snprintf(kernel, sizeof(kernel), "%s %s", u.sysname, u.release);
	if ((f = fopen("/proc/cpuinfo", "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			char *p = strchr(line, ':');

			if (strncmp(line, "model name", 10) == 0 && p) {
				p++;
				while (*p == ' ')
					p++;
				p[strcspn(p, "\n")] = '\0';
				snprintf(cpu_model, sizeof(cpu_model), "%s", p);
				break;
			}
		}
		fclose(f);
	}
	strftime(started, sizeof(started), "%Y-%m-%d %H:%M:%S %Z",
	    localtime(&t));
	loadavg(load_start, sizeof(load_start));
}

static const char *
human(double v, char *buf, size_t len)
{
	if (v >= 1e6)
		snprintf(buf, len, "%.2fM", v / 1e6);
	else if (v >= 1e3)
		snprintf(buf, len, "%.1fk", v / 1e3);
	else
		snprintf(buf, len, "%.1f", v);
	return buf;
}

static const struct res *
base_ok(const char *id)
{
	const struct res *b = id ? res_by_id(id) : NULL;

	return b != NULL && b->ok && b->reps > 0 ? b : NULL;
}

/* The figure a nbmq result is compared on, and its baseline's. */
static int
ratio_of(const struct res *r, const char *base_id, int mb, double *mine,
    double *theirs, const struct res **bp)
{
	const struct res *b = base_ok(base_id);

	*bp = b;
	if (b == NULL || !r->ok || r->reps == 0)
		return -1;
	*mine = mb ? r->mbps[0] : r->rx_rate[0];
	*theirs = mb ? b->mbps[0] : b->rx_rate[0];
	return *theirs > 0 ? 0 : -1;
}

/*
 * The strongest of r's rivals that ran (highest rate; lowest p50 for a
 * round trip): what nbmq is printed beside, as a ratio.
 */
static const struct res *
rival_best(const struct res *r)
{
	const struct res	*best = NULL, *b;
	char			 id[16];
	const char		*p = r->rivals;
	size_t			 n;

	while (p != NULL && *p != '\0') {
		n = strcspn(p, ",");
		snprintf(id, sizeof(id), "%.*s", (int)n, p);
		p += n + (p[n] == ',');
		if ((b = base_ok(id)) == NULL)
			continue;
		if (best == NULL || (r->kind == R_LAT ? b->p50[0] < best->p50[0] :
		    b->rx_rate[0] > best->rx_rate[0]))
			best = b;
	}
	return best;
}

/* "  vs the strongest rival: ..." under an nbmq row. */
static void
print_rival(const struct res *r)
{
	const struct res	*b = rival_best(r);
	char			 a[32];

	if (b == NULL)
		return;
	if (r->kind == R_LAT) {
		printf("  %-36s   vs the strongest rival, %s: p50 %.1f us, "
		    "p99 %.1f us: p50 %.2fx, p99 %.2fx\n", "", b->id,
		    b->p50[0], b->p99[0], r->p50[0] / b->p50[0],
		    r->p99[0] / b->p99[0]);
		return;
	}
	printf("  %-36s   vs the strongest rival, %s: %s/s (%.1f%% received): "
	    "%.2fx; CPU per message %.2f us: %.2fx\n", "", b->id,
	    human(b->rx_rate[0], a, sizeof(a)), b->pct[0],
	    r->rx_rate[0] / b->rx_rate[0], b->us_msg[0],
	    b->us_msg[0] > 0 ? r->us_msg[0] / b->us_msg[0] : 0);
}

static const struct res *
idle_baseline_row(int i)
{
	return idle_base[i].ok ? &idle_base[i] : NULL;
}

void
print_text(void)
{
	char	a[32], b[32], bl[96];

	printf("\nnbmqbench %s: %ld CPUs (%s), %s\n", started, ncpu, cpu_model,
	    kernel);
	printf("load average %s at the start, %s at the end; medians of %d "
	    "repetitions of %.1f s; %s\n\n", load_start, load_end,
	    opt_reps, opt_secs, opt_veth ? "a veth pair between two network "
	    "namespaces (daemon A and the senders on one side, daemon B and "
	    "the receivers on the other)" : "loopback");
	printf("Baselines (one sender process, one receiver process)\n");
	printf("  %-40s %10s %8s %10s %8s %9s\n", "", "recv msg/s", "MB/s",
	    "sent msg/s", "recv %", "CPU us/msg");
	for (int i = 0; i < nresults; i++) {
		struct res *r = &results[i];

		if (r->nbmq || !wanted(r->id))
			continue;
		if (!r->ok) {
			printf("  %-40s FAILED: %s\n", r->label, r->err);
			continue;
		}
		if (r->kind == R_LAT)
			printf("  %-40s p50 %.1f us, p99 %.1f us "
			    "(%s round trips/s)\n", r->label, r->p50[0],
			    r->p99[0], human(r->rx_rate[0], a, sizeof(a)));
		else
			printf("  %-40s %10s %8.1f %10s %7.1f%% %9.2f\n",
			    r->label, human(r->rx_rate[0], a, sizeof(a)),
			    r->mbps[0], human(r->tx_rate[0], b, sizeof(b)),
			    r->pct[0], r->us_msg[0]);
		if (r->note)
			printf("  %-40s (%s)\n", "", r->note);
	}
	printf("\nnbmq: app -> nbmqd A -> UDP -> nbmqd B -> app "
	    "(4 processes; daemons on defaults)\n");
	printf("  %-36s %10s %8s %8s   %-28s %6s\n", "", "recv msg/s", "MB/s",
	    "recv %", "baseline", "ratio");
	for (int i = 0; i < nresults; i++) {
		struct res	*r = &results[i];
		const struct res *bs;
		double		 mine, theirs;

		if (!r->nbmq || r->kind == R_IDLE || !wanted(r->id))
			continue;
		if (!r->ok) {
			printf("  %-36s FAILED: %s\n", r->label, r->err);
			continue;
		}
		if (r->kind == R_LAT) {
			const struct res *bb = base_ok(r->base);

			printf("  %-36s p50 %.1f us, p99 %.1f us (%llu lost, "
			    "%s round trips/s)\n", r->label, r->p50[0],
			    r->p99[0], (unsigned long long)r->lost[0],
			    human(r->rx_rate[0], a, sizeof(a)));
			if (bb != NULL)
				printf("  %-36s   vs %s p50 %.1f us, p99 %.1f us: "
				    "p50 %.2fx, p99 %.2fx\n", "", bb->id,
				    bb->p50[0], bb->p99[0],
				    r->p50[0] / bb->p50[0],
				    r->p99[0] / bb->p99[0]);
			if ((bb = base_ok(r->base2)) != NULL)
				printf("  %-36s   vs %s p50 %.1f us, p99 %.1f us: "
				    "p50 %.2fx, p99 %.2fx\n", "", bb->id,
				    bb->p50[0], bb->p99[0],
				    r->p50[0] / bb->p50[0],
				    r->p99[0] / bb->p99[0]);
			print_rival(r);
			if (r->note)
				printf("  %-36s   %s\n", "", r->note);
			continue;
		}
		printf("  %-36s %10s %8.1f %7.2f%%", r->label,
		    human(r->rx_rate[0], a, sizeof(a)), r->mbps[0], r->pct[0]);
		if (ratio_of(r, r->base, r->base_mb, &mine, &theirs, &bs) == 0) {
			if (r->base_mb)
				snprintf(bl, sizeof(bl), "%s %.1f MB/s", bs->id,
				    theirs);
			else
				snprintf(bl, sizeof(bl), "%s %s/s", bs->id,
				    human(theirs, a, sizeof(a)));
			printf("   %-28s %5.2fx\n", bl, mine / theirs);
		} else
			printf("   %-28s %6s\n", r->base ? r->base : "", "n/a");
		if (r->base2 && ratio_of(r, r->base2, 0, &mine, &theirs,
		    &bs) == 0) {
			snprintf(bl, sizeof(bl), "%s %s/s", bs->id,
			    human(theirs, a, sizeof(a)));
			printf("  %-36s %10s %8s %8s   %-28s %5.2fx\n", "", "",
			    "", "", bl, mine / theirs);
		}
		printf("  %-36s   sent %s/s; over all repetitions %llu sent, "
		    "%llu received (%.2f%%)", "",
		    human(r->tx_rate[0], a, sizeof(a)),
		    (unsigned long long)r->sent[0],
		    (unsigned long long)r->got[0], r->sent[0] ?
		    100.0 * (double)r->got[0] / (double)r->sent[0] : 0);
		if (r->nrx > 1)
			printf(" per dish (worst dish %.2f%%)", r->minpct[0]);
		printf("\n  %-36s   dropped: kernel UDP at daemon B %.0f; "
		    "daemon A: %s; daemon B: %s\n", "", r->kdrop_b[0],
		    r->ddrops[0], r->ddrops[1]);
		printf("  %-36s   CPU: daemon A %.0f%%, B %.0f%%, sender %.0f%%, "
		    "receiver %.0f%%; %.2f us CPU per message", "",
		    r->cpu_a[0], r->cpu_b[0], r->cpu_tx[0], r->cpu_rx[0],
		    r->us_msg[0]);
		if ((bs = base_ok(r->base)) != NULL && bs->us_msg[0] > 0 &&
		    !r->base_mb)
			printf(" (%.1fx %s)", r->us_msg[0] / bs->us_msg[0],
			    bs->id);
		printf("\n");
		print_rival(r);
		if (strncmp(r->id, "safe", 4) == 0)
			printf("  %-36s   give-ups %lld\n", "",
			    (long long)r->giveups[0]);
		if (r->note)
			printf("  %-36s   %s\n", "", r->note);
	}
	if (wanted("idle")) {
		printf("\nIdle cost: peers heartbeating every 1 s; a fresh nbmqd, "
		    "and a raw UDP responder as the baseline\n"
		    "(goal: nbmqd <= 5%% of one core, <= 2 KiB RSS per peer)\n");
		printf("  %-7s %9s %9s %10s %8s %8s   %-22s %s\n", "peers",
		    "CPU %", "RSS KiB", "RSS/peer B", "hb in/s", "hb out/s",
		    "raw responder CPU %", "ratio");
		if (idle0.ok)
			printf("  %-7d %8.2f%% %9.0f %10s %8s %8s   %-22.2f\n", 0,
			    idle0.idle_cpu, idle0.rss_kib, "-", "-", "-",
			    idle_base0.idle_cpu);
		for (int i = 0; i < 2; i++) {
			struct res *r = &idle_rows[i];
			const struct res *bb = idle_baseline_row(i);

			if (!r->ok) {
				printf("  %-7d FAILED: %s\n", opt_peers[i],
				    r->err);
				continue;
			}
			printf("  %-7d %8.2f%% %9.0f %10.0f %8.0f %8.0f   ",
			    r->peers, r->idle_cpu, r->rss_kib, r->per_peer,
			    r->hb_in, r->hb_out);
			if (bb != NULL && bb->idle_cpu > 0)
				printf("%-22.2f %.1fx\n", bb->idle_cpu,
				    r->idle_cpu / bb->idle_cpu);
			else
				printf("%-22s\n", bb ? "0.00" : "failed");
			printf("  %-7s goal: CPU %.2fx of 5%%, RSS %.2fx of "
			    "2 KiB/peer; %d peers up in the daemon\n", "",
			    r->idle_cpu / 5.0, r->per_peer / 2048.0,
			    r->peers_seen);
		}
	}
}

static void
json_num(FILE *f, const char *k, double v, int comma)
{
	if (isfinite(v))
		fprintf(f, "\"%s\": %.10g%s", k, v, comma ? ", " : "");
	else
		fprintf(f, "\"%s\": null%s", k, comma ? ", " : "");
}

static void
json_str(FILE *f, const char *k, const char *v, int comma)
{
	fprintf(f, "\"%s\": \"", k);
	for (; v && *v; v++) {
		if (*v == '"' || *v == '\\')
			fputc('\\', f);
		if ((unsigned char)*v >= 0x20)
			fputc(*v, f);
	}
	fprintf(f, "\"%s", comma ? ", " : "");
}

static void
json_idle(FILE *f, const char *id, const char *label, const struct res *r,
    int peers, const struct res *base)
{
	fprintf(f, ",\n    {");
	json_str(f, "id", id, 1);
	json_str(f, "label", label, 1);
	json_str(f, "group", base == r ? "baseline" : "nbmq", 1);
	json_num(f, "peers", peers, 1);
	json_num(f, "ok", r->ok, r->ok ? 1 : 1);
	if (!r->ok) {
		json_str(f, "error", r->err, 0);
		fprintf(f, "}");
		return;
	}
	json_num(f, "cpu_pct", r->idle_cpu, 1);
	json_num(f, "rss_kib", r->rss_kib, peers > 0);
	if (peers > 0) {
		json_num(f, "heartbeats_in_per_s", r->hb_in, 1);
		json_num(f, "heartbeats_out_per_s", r->hb_out, 1);
		json_num(f, "client_cpu_pct", r->farm_cpu, base != r);
		if (base != r) {
			json_num(f, "peers_up_in_daemon", r->peers_seen, 1);
			json_num(f, "rss_per_peer_bytes", r->per_peer, 1);
			json_num(f, "goal_ratio_cpu_5pct", r->idle_cpu / 5, 1);
			json_num(f, "goal_ratio_rss_2kib", r->per_peer / 2048,
			    base != NULL && base->ok && base->idle_cpu > 0);
			if (base != NULL && base->ok && base->idle_cpu > 0) {
				json_str(f, "baseline", peers == opt_peers[0] ?
				    "idle_raw1" : "idle_raw2", 1);
				json_num(f, "ratio_cpu", r->idle_cpu /
				    base->idle_cpu, 0);
			}
		}
	}
	fprintf(f, "}");
}

void
print_json(FILE *f)
{
	int	first = 1;

	fprintf(f, "{\n  \"machine\": {");
	json_num(f, "nproc", (double)ncpu, 1);
	json_str(f, "cpu", cpu_model, 1);
	json_str(f, "kernel", kernel, 1);
	json_str(f, "loadavg_start", load_start, 1);
	json_str(f, "loadavg_end", load_end, 1);
	json_str(f, "path", opt_veth ? "veth" : "loopback", 1);
	json_str(f, "started", started, 0);
	fprintf(f, "},\n  \"settings\": {");
	json_num(f, "reps", opt_reps, 1);
	json_num(f, "secs", opt_secs, 1);
	json_num(f, "idle_secs", opt_idle_secs, 0);
	fprintf(f, "},\n  \"results\": [");
	for (int i = 0; i < nresults; i++) {
		struct res	*r = &results[i];
		const struct res *bs;
		double		 mine, theirs;

		if (r->kind == R_IDLE || !wanted(r->id))
			continue;
		fprintf(f, "%s\n    {", first ? "" : ",");
		first = 0;
		json_str(f, "id", r->id, 1);
		json_str(f, "label", r->label, 1);
		json_str(f, "group", r->nbmq ? "nbmq" : "baseline", 1);
		json_num(f, "ok", r->ok, 1);
		if (!r->ok) {
			json_str(f, "error", r->err, 0);
			fprintf(f, "}");
			continue;
		}
		json_num(f, "size", r->size, 1);
		if (r->kind == R_LAT) {
			const struct res *bb = base_ok(r->base);

			json_num(f, "p50_us", r->p50[0], 1);
			json_num(f, "p99_us", r->p99[0], 1);
			json_num(f, "round_trips_per_s", r->rx_rate[0], 1);
			json_num(f, "lost", (double)r->lost[0], 1);
			if (bb != NULL) {
				json_str(f, "baseline", bb->id, 1);
				json_num(f, "ratio_p50",
				    r->p50[0] / bb->p50[0], 1);
				json_num(f, "ratio_p99",
				    r->p99[0] / bb->p99[0], 1);
			}
			if ((bb = base_ok(r->base2)) != NULL) {
				json_str(f, "baseline2", bb->id, 1);
				json_num(f, "ratio2_p50",
				    r->p50[0] / bb->p50[0], 1);
				json_num(f, "ratio2_p99",
				    r->p99[0] / bb->p99[0], 1);
			}
			json_num(f, "reps", r->reps, 0);
			fprintf(f, "}");
			continue;
		}
		json_num(f, "recv_msgs_per_s", r->rx_rate[0], 1);
		json_num(f, "sent_msgs_per_s", r->tx_rate[0], 1);
		json_num(f, "mb_per_s", r->mbps[0], 1);
		json_num(f, "received_pct", r->pct[0], 1);
		json_num(f, "sent_total", (double)r->sent[0], 1);
		json_num(f, "received_total", (double)r->got[0], 1);
		json_num(f, "received_total_pct", r->sent[0] ? 100.0 *
		    (double)r->got[0] / (double)r->sent[0] : 0, 1);
		json_num(f, "cpu_us_per_msg", r->us_msg[0], 1);
		if (r->nrx > 1) {
			json_num(f, "receivers", r->nrx, 1);
			json_num(f, "worst_received_pct", r->minpct[0], 1);
		}
		if (r->nbmq) {
			json_num(f, "kernel_udp_drops_daemon_b", r->kdrop_b[0],
			    1);
			json_str(f, "daemon_a_drops", r->ddrops[0], 1);
			json_str(f, "daemon_b_drops", r->ddrops[1], 1);
			if (strncmp(r->id, "safe", 4) == 0)
				json_num(f, "giveups", (double)r->giveups[0], 1);
			fprintf(f, "\"cpu_pct\": {");
			json_num(f, "daemon_a", r->cpu_a[0], 1);
			json_num(f, "daemon_b", r->cpu_b[0], 1);
			json_num(f, "sender", r->cpu_tx[0], 1);
			json_num(f, "receiver", r->cpu_rx[0], 0);
			fprintf(f, "}, ");
		}
		if (r->note)
			json_str(f, "note", r->note, 1);
		if (ratio_of(r, r->base, r->base_mb, &mine, &theirs, &bs) == 0) {
			json_str(f, "baseline", bs->id, 1);
			json_str(f, "compared_on", r->base_mb ? "mb_per_s" :
			    "recv_msgs_per_s", 1);
			json_num(f, "ratio", mine / theirs, 1);
			if (!r->base_mb && bs->us_msg[0] > 0)
				json_num(f, "ratio_cpu_per_msg",
				    r->us_msg[0] / bs->us_msg[0], 1);
		}
		if (r->base2 && ratio_of(r, r->base2, 0, &mine, &theirs,
		    &bs) == 0) {
			json_str(f, "baseline2", bs->id, 1);
			json_num(f, "ratio2", mine / theirs, 1);
		}
		if ((bs = rival_best(r)) != NULL) {
			json_str(f, "rival", bs->id, 1);
			if (r->kind == R_LAT)
				json_num(f, "ratio_rival_p50",
				    r->p50[0] / bs->p50[0], 1);
			else {
				json_num(f, "ratio_rival", r->rx_rate[0] /
				    bs->rx_rate[0], 1);
				if (bs->us_msg[0] > 0)
					json_num(f, "ratio_rival_cpu_per_msg",
					    r->us_msg[0] / bs->us_msg[0], 1);
			}
		}
		json_num(f, "reps", r->reps, 0);
		fprintf(f, "}");
	}
	if (wanted("idle")) {
		if (first)
			fprintf(f, "\n    {\"id\": \"none\"}");
		json_idle(f, "idle_raw0", "raw UDP responder, 0 peers",
		    &idle_base0, 0, &idle_base0);
		json_idle(f, "idle_raw1", "raw UDP responder", &idle_base[0],
		    opt_peers[0], &idle_base[0]);
		json_idle(f, "idle_raw2", "raw UDP responder", &idle_base[1],
		    opt_peers[1], &idle_base[1]);
		json_idle(f, "idle0", "idle nbmqd, 0 peers", &idle0, 0, NULL);
		json_idle(f, "idle1", "idle nbmqd", &idle_rows[0],
		    opt_peers[0], &idle_base[0]);
		json_idle(f, "idle2", "idle nbmqd", &idle_rows[1],
		    opt_peers[1], &idle_base[1]);
	}
	fprintf(f, "\n  ]\n}\n");
}
