/* AF_XDP: any NIC that has a Linux driver, as a safenic device.
 *
 * A device spec xdp:IFNAME[:QUEUE] opens an AF_XDP socket (libxdp) bound
 * to one queue of a kernel network interface, with an XDP program (libxdp's
 * default, built into the library) that redirects that queue's frames to
 * the socket. Zero-copy where the kernel driver offers it, else copy mode:
 * the kernel copies frames between its own buffers and ours.
 *
 * The UMEM, the memory the kernel reads frames from and writes them into,
 * is the DMA region of the device's receive pool: buffers received on an
 * AF_XDP port are ordinary pool buffers, which fwd may send on any port,
 * and a pool shared by two AF_XDP ports is one UMEM shared by their
 * sockets (XDP_SHARED_UMEM), so frames move between them without a copy.
 * A frame of another pool is copied into one of the UMEM's on transmit
 * (a socket has exactly one UMEM). Packet metadata stays outside the UMEM,
 * as for every driver (mempool.h); what the kernel writes into the shared
 * rings is checked as device data (xskring.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include "afxdp.h"
#include "counter.h"
#include "ctx.h"
#include "device.h"
#include "error.h"
#include "mempool.h"
#include "xskring.h"

#define AFXDP_DEFAULT_RING 1024
#define AFXDP_BATCH 64
/* XDP_PACKET_HEADROOM: the kernel's room before each frame it writes. */
#define AFXDP_KERNEL_HEADROOM 256u
/* Kicks of one transmit call: copy mode sends at most 32 frames a kick. */
#define AFXDP_MAX_KICKS 64

/* One pool's region registered as a UMEM, shared by the sockets of the
 * devices that receive into that pool (ctx->xsk_umems). */
struct sn_xsk_umem {
	struct sn_mempool *pool;
	struct xsk_umem *umem;
	struct xsk_ring_prod fill;   /* the UMEM's own rings, taken over by */
	struct xsk_ring_cons comp;   /* its first socket */
	unsigned users;              /* sockets made on it */
	/* Buffers a closed device lent through the UMEM's own socket, which
	 * lives until the UMEM goes: home only then. */
	uint32_t *parked;
	uint32_t parked_count;
	struct sn_xsk_umem *next;
};

struct afxdp_queue {
	struct sn_xsk_queue x;
	const struct sn_ctx *ctx;
	struct sn_mempool *pool;     /* the UMEM's pool */
	int fd;
	uint32_t max_fill;           /* buffers lent to receive, at most */
	uint32_t max_frame;          /* the MTU's: mtu + 14 */
	uint64_t rx_packets, rx_bytes, rx_errors;
	uint64_t tx_packets, tx_bytes, tx_errors;
};

struct afxdp_dev {
	struct afxdp_queue q;
	struct xsk_socket *xsk;
	struct xsk_ring_cons rx, comp;
	struct xsk_ring_prod tx, fill;
	struct sn_xsk_umem *um;
	bool owns_umem_fd;           /* the socket is the UMEM's own fd */
	char ifname[IF_NAMESIZE];
	unsigned ifindex;
	uint32_t queue;
	int ctl_fd;                  /* packet socket: promiscuous mode, ioctls */
	char model[160];
};

/* ---- libxdp's messages to the context's log -------------------------------- */

/* libxdp and libbpf print from inside our calls, in the calling thread:
 * the context of the thread's current call gets the lines. */
static _Thread_local const struct sn_ctx *log_ctx;

static int forward_print(const char *fmt, va_list ap)
{
	char line[SN_ERROR_LEN];
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	if (log_ctx && line[0])
		sn_log(log_ctx, SN_LOG_INFO, "%s", line);
	return 0;
}

static int xdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	return level == LIBXDP_DEBUG ? 0 : forward_print(fmt, ap);
}

static int bpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_DEBUG ? 0 : forward_print(fmt, ap);
}

/* ---- the UMEM ------------------------------------------------------------- */

static void geo_of(const struct sn_mempool *pool, struct sn_xsk_geo *geo)
{
	*geo = (struct sn_xsk_geo){
		.umem_size = pool->region->size,
		.page_size = pool->region->page_size,
		.buf_size = pool->buf_size,
		.bufs_per_page = pool->bufs_per_page,
		.nbufs = pool->size,
	};
}

/* The ring parser maps addresses to buffers by the pool's layout: it must
 * be the layout the pool really has. */
static int check_layout(const struct sn_mempool *pool, const struct sn_xsk_geo *geo,
			const char *spec, struct sn_error *err)
{
	if (sn_xsk_geo_check(geo) < 0)
		return sn_fail(err, EINVAL, "%s: the pool's layout cannot be a UMEM", spec);
	for (uint32_t i = 0; i < pool->size; i++)
		if ((uint64_t)(pool->home[i].va - pool->region->va) != sn_xsk_buf_offset(geo, i))
			return sn_fail(err, EINVAL, "%s: internal: buffer %u is not where the "
				       "UMEM layout puts it", spec, i);
	/* The kernel's limits on a UMEM chunk (XDP_UMEM_MIN_CHUNK_SIZE, one
	 * page); its own 256 bytes of headroom come first in each. */
	if (pool->buf_size < 2048 || pool->buf_size > 4096)
		return sn_fail(err, EINVAL, "%s: AF_XDP needs buffers of 2048 to 4096 bytes; "
			       "the receive pool's are %u: make it with buf_size 0 (the "
			       "default, 2176)", spec, pool->buf_size);
	return 0;
}

static struct sn_xsk_umem *find_umem(struct sn_ctx *ctx, const struct sn_mempool *pool)
{
	for (struct sn_xsk_umem *u = ctx->xsk_umems; u; u = u->next)
		if (u->pool == pool)
			return u;
	return NULL;
}

static int register_umem(struct sn_xsk_umem *u, uint32_t ring, const char *spec,
			 struct sn_error *err)
{
	struct xsk_umem_config cfg = {
		.fill_size = ring,
		.comp_size = ring,
		.frame_size = u->pool->buf_size,
		.frame_headroom = 0,
		.flags = XDP_UMEM_UNALIGNED_CHUNK_FLAG,
	};
	int rc = xsk_umem__create(&u->umem, u->pool->region->va, u->pool->region->size,
				  &u->fill, &u->comp, &cfg);
	if (rc < 0) {
		u->umem = NULL;
		return sn_fail(err, -rc, "%s: registering the pool as a UMEM failed: %s%s", spec,
			       strerror(-rc), -rc == EPERM ? " (AF_XDP needs root, or "
			       "CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF)" : "");
	}
	return 0;
}

static struct sn_xsk_umem *get_umem(struct sn_ctx *ctx, struct sn_mempool *pool)
{
	struct sn_xsk_umem *u = find_umem(ctx, pool);
	if (u)
		return u;
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	/* A buffer is lent by one queue at a time: the pool's size is room
	 * for every buffer that may ever wait here. */
	u->parked = calloc(pool->size, sizeof(*u->parked));
	if (!u->parked) {
		free(u);
		return NULL;
	}
	u->pool = pool;
	sn_mempool_get(pool);
	u->next = ctx->xsk_umems;
	ctx->xsk_umems = u;
	return u;
}

/* The last socket on the UMEM is gone: unregister it, and the buffers
 * parked with it come home. */
static void put_umem(struct sn_ctx *ctx, struct sn_xsk_umem *u)
{
	if (u->users)
		return;
	if (u->umem)
		xsk_umem__delete(u->umem);
	u->umem = NULL;
	for (uint32_t i = 0; i < u->parked_count; i++) {
		struct sn_pkt *pkt = &u->pool->pkts[u->parked[i]];
		sn_pkt_free_from_ring(&pkt, 1);
	}
	free(u->parked);
	struct sn_xsk_umem **link = &ctx->xsk_umems;
	while (*link != u)
		link = &(*link)->next;
	*link = u->next;
	sn_mempool_put(u->pool);
	free(u);
}

/* ---- the socket ---------------------------------------------------------- */

static uint32_t ring_size(uint16_t asked)
{
	return asked ? asked : AFXDP_DEFAULT_RING;
}

static void copy_ring(struct sn_xsk_ring *to, uint32_t *prod, uint32_t *cons, void *ring,
		      uint32_t *flags, uint32_t size)
{
	*to = (struct sn_xsk_ring){ .prod = prod, .cons = cons, .entries = ring,
				    .flags = flags, .size = size, .mask = size - 1 };
}

/* One try at a socket; a failed first socket on a UMEM takes the UMEM
 * with it (its fd has rings set that a second bind cannot set again). */
static int try_socket(struct afxdp_dev *ad, const struct sn_dev_config *cfg, uint16_t bind,
		      uint32_t xdp_flags, bool *umem_failed, const char *spec,
		      struct sn_error *err)
{
	struct sn_xsk_umem *u = ad->um;
	uint32_t rx = ring_size(cfg->rx_ring_size), tx = ring_size(cfg->tx_ring_size);
	if (!u->umem) {
		int rc = register_umem(u, rx, spec, err);
		*umem_failed = rc < 0;
		if (rc < 0)
			return rc;
	}
	struct xsk_socket_config sc = {
		.rx_size = rx, .tx_size = tx, .xdp_flags = xdp_flags,
		.bind_flags = (uint16_t)(bind | XDP_USE_NEED_WAKEUP),
	};
	int rc = xsk_socket__create_shared(&ad->xsk, ad->ifname, ad->queue, u->umem, &ad->rx,
					   &ad->tx, &ad->fill, &ad->comp, &sc);
	if (rc < 0) {
		ad->xsk = NULL;
		if (u->users == 0) {
			xsk_umem__delete(u->umem);
			u->umem = NULL;
		}
		return rc;
	}
	ad->owns_umem_fd = xsk_socket__fd(ad->xsk) == xsk_umem__fd(u->umem);
	u->users++;
	return 0;
}

/* Zero-copy where the driver has it, then copy mode; the XDP program in
 * the driver (native) where it can run there, else generic (skb) XDP. */
static int open_socket(struct afxdp_dev *ad, const struct sn_dev_config *cfg, const char *spec,
		       struct sn_error *err)
{
	static const struct { uint16_t bind; uint32_t xdp; } tries[] = {
		{ XDP_ZEROCOPY, 0 },
		{ XDP_COPY, 0 },
		{ XDP_COPY, XDP_FLAGS_SKB_MODE },
	};
	int rc = -EINVAL;
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		bool umem_failed = false;
		rc = try_socket(ad, cfg, tries[i].bind, tries[i].xdp, &umem_failed, spec, err);
		if (rc == 0 || umem_failed)
			return rc;
	}
	return sn_fail(err, -rc, "%s: no AF_XDP socket on %s queue %u: %s%s", spec, ad->ifname,
		       ad->queue, strerror(-rc), -rc == EINVAL ? " (does the interface have that "
		       "queue? is another XDP program attached? is /sys/fs/bpf mounted?)" :
		       -rc == EPERM ? " (AF_XDP needs root, or CAP_NET_ADMIN, CAP_NET_RAW and "
		       "CAP_BPF)" : "");
}

/* Which way the socket and the program ended up, for the start-up line. */
static void describe(struct afxdp_dev *ad)
{
	struct xdp_options opts = { 0 };
	socklen_t len = sizeof(opts);
	bool zc = getsockopt(ad->q.fd, SOL_XDP, XDP_OPTIONS, &opts, &len) == 0 &&
		  (opts.flags & XDP_OPTIONS_ZEROCOPY);
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	const char *mode = "XDP mode unknown";
	if (bpf_xdp_query((int)ad->ifindex, 0, &q) == 0) {
		switch (q.attach_mode) {
		case XDP_ATTACHED_DRV: mode = "native XDP"; break;
		case XDP_ATTACHED_SKB: mode = "generic (skb) XDP"; break;
		case XDP_ATTACHED_HW: mode = "offloaded XDP"; break;
		case XDP_ATTACHED_MULTI: mode = "XDP in several modes"; break;
		default: break;
		}
	}
	snprintf(ad->model, sizeof(ad->model), "AF_XDP on %s queue %u, %s, %s", ad->ifname,
		 ad->queue, zc ? "zero-copy" : "copy mode (the kernel driver has no zero-copy "
		 "here: each frame is copied)", mode);
}

/* ---- the interface ------------------------------------------------------- */

/* A packet socket that receives nothing (protocol 0, never bound): for the
 * interface ioctls, and to hold promiscuous mode, which the kernel counts
 * per holder and drops when the socket closes. */
static int open_ctl(struct afxdp_dev *ad, bool promisc, const char *spec, struct sn_error *err)
{
	ad->ctl_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (ad->ctl_fd < 0)
		return sn_fail(err, errno, "%s: packet socket: %s", spec, strerror(errno));
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ad->ifname);
	if (ioctl(ad->ctl_fd, SIOCGIFFLAGS, &ifr) < 0)
		return sn_fail(err, errno, "%s: interface %s: %s", spec, ad->ifname,
			       strerror(errno));
	if (!(ifr.ifr_flags & IFF_UP))
		return sn_fail(err, ENETDOWN, "%s: interface %s is down: bring it up first "
			       "(ip link set %s up)", spec, ad->ifname, ad->ifname);
	if (promisc) {
		struct packet_mreq mr = { .mr_ifindex = (int)ad->ifindex,
					  .mr_type = PACKET_MR_PROMISC };
		if (setsockopt(ad->ctl_fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr,
			       sizeof(mr)) < 0)
			return sn_fail(err, errno, "%s: promiscuous mode on %s: %s", spec,
				       ad->ifname, strerror(errno));
	}
	return 0;
}

static void read_mac(struct afxdp_dev *ad, uint8_t mac[6])
{
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ad->ifname);
	if (ioctl(ad->ctl_fd, SIOCGIFHWADDR, &ifr) == 0)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
}

/* ---- the datapath --------------------------------------------------------- */

/* Lends free pool buffers to the fill ring, up to max_fill. */
static void refill(struct afxdp_queue *q)
{
	if (q->x.in_fill >= q->max_fill)
		return;
	uint32_t want = q->max_fill - q->x.in_fill, room = sn_xsk_fill_room(&q->x);
	if (want > room)
		want = room;
	uint32_t posted = 0;
	uint8_t *in_pool = q->pool->in_pool;
	while (posted < want) {
		uint32_t got, n = want - posted;
		struct sn_pkt **end = sn_mempool_take(q->pool, n < AFXDP_BATCH ? n : AFXDP_BATCH,
						      &got);
		if (!got)
			break;
		for (uint32_t i = 1; i <= got; i++) {
			sn_mempool_mark_out(in_pool, end[-(int)i]);
			sn_xsk_fill_put(&q->x, end[-(int)i]->index);
		}
		posted += got;
	}
	if (posted) {
		sn_xsk_publish(&q->x.fill);
		if (sn_xsk_needs_wakeup(&q->x.fill))
			(void)!recvfrom(q->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
	}
}

static uint16_t afxdp_rx_burst(void *queue, struct sn_pkt **pkts, uint16_t n)
{
	struct afxdp_queue *q = queue;
	struct sn_xsk_frame frames[AFXDP_BATCH];
	const struct sn_buf_home *home = q->pool->home;
	uint16_t got = 0;
	uint64_t bytes = 0;

	refill(q);
	while (got < n) {
		uint32_t want = (uint32_t)(n - got) < AFXDP_BATCH ? (uint32_t)(n - got) : AFXDP_BATCH;
		uint32_t k = sn_xsk_rx_take(&q->x, frames, want);
		for (uint32_t i = 0; i < k; i++) {
			struct sn_pkt *pkt = home[frames[i].buf].pkt;
			/* Past the MTU: a frame on the wire, not a lie. */
			if (frames[i].len > q->max_frame) {
				sn_pkt_free_from_ring(&pkt, 1);
				sn_count(&q->rx_errors, 1);
				continue;
			}
			pkt->data = home[frames[i].buf].va + frames[i].off;
			pkt->iova = home[frames[i].buf].iova + frames[i].off;
			pkt->headroom = (uint16_t)frames[i].off;
			pkt->len = (uint16_t)frames[i].len;
			pkt->flags = 0;
			bytes += frames[i].len;
			pkts[got++] = pkt;
		}
		if (k < want)
			break;
	}
	if (got) {
		sn_count(&q->rx_packets, got);
		sn_count(&q->rx_bytes, bytes);
		refill(q);
	}
	return got;
}

/* Buffers the kernel finished sending go home. */
static void reclaim(struct afxdp_queue *q)
{
	uint32_t bufs[AFXDP_BATCH];
	struct sn_pkt *done[AFXDP_BATCH];
	uint32_t k;
	while (q->x.in_tx && (k = sn_xsk_comp_take(&q->x, bufs, AFXDP_BATCH)) > 0) {
		for (uint32_t i = 0; i < k; i++)
			done[i] = q->pool->home[bufs[i]].pkt;
		sn_pkt_free_from_ring(done, k);
	}
}

/* Copy mode sends only inside a system call, and at most 32 frames in
 * one: kick until the ring is taken or the kernel has no room. */
static void kick(struct afxdp_queue *q)
{
	for (int i = 0; i < AFXDP_MAX_KICKS && sn_xsk_needs_wakeup(&q->x.tx); i++) {
		if (sendto(q->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0)
			break;
		if (errno != EAGAIN && errno != EBUSY)
			break;
		if (__atomic_load_n(q->x.tx.cons, __ATOMIC_ACQUIRE) == q->x.tx.head)
			break;
	}
}

/* A frame of another pool goes out of a copy in one of the UMEM's. */
static struct sn_pkt *copy_in(struct afxdp_queue *q, const struct sn_pkt *pkt)
{
	struct sn_pkt *c;
	if (pkt->len > sn_mempool_data_room(q->pool) || sn_pkt_alloc_bulk(q->pool, &c, 1) != 1)
		return NULL;
	memcpy(c->data, pkt->data, pkt->len);
	c->len = pkt->len;
	return c;
}

static uint16_t afxdp_tx_burst(void *queue, struct sn_pkt **pkts, uint16_t n)
{
	struct afxdp_queue *q = queue;
	uint16_t sent = 0;
	uint64_t bytes = 0;

	reclaim(q);
	uint32_t room = n ? sn_xsk_tx_room(&q->x) : 0;
	while (sent < n && sent < room) {
		struct sn_pkt *pkt = pkts[sent];
		if (!sn_pkt_tx_ok(pkt, q->ctx, 0, q->max_frame)) {
			sn_count(&q->tx_errors, 1);
			break;
		}
		struct sn_pkt *out = pkt;
		if (pkt->pool == q->pool && q->x.state[pkt->index] != SN_XSK_HOME) {
			sn_count(&q->tx_errors, 1);  /* already lent: sent twice */
			break;
		}
		if (pkt->pool != q->pool) {
			out = copy_in(q, pkt);
			if (!out)
				break;  /* no UMEM buffer free: the caller keeps it */
			sn_pkt_free_bulk(&pkt, 1);
		}
		sn_xsk_tx_put(&q->x, out->index, out->headroom, out->len);
		bytes += out->len;
		sent++;
	}
	if (sent) {
		sn_xsk_publish(&q->x.tx);
		sn_count(&q->tx_packets, sent);
		sn_count(&q->tx_bytes, bytes);
	}
	if (q->x.in_tx)
		kick(q);
	return sent;
}

/* ---- the driver's operations ----------------------------------------------- */

static const char *afxdp_match(uint16_t vendor, uint16_t device)
{
	(void)vendor;
	(void)device;
	return NULL;  /* opened by its spec, never by a PCI id */
}

static void release_socket(struct afxdp_dev *ad)
{
	if (ad->xsk) {
		xsk_socket__delete(ad->xsk);
		ad->xsk = NULL;
		ad->um->users--;
	}
}

static int afxdp_start(struct sn_device *dev, const struct sn_dev_config *cfg,
		       struct sn_error *err)
{
	const char *spec = dev->pci.addr;
	struct afxdp_dev *ad = calloc(1, sizeof(*ad));
	if (!ad)
		return sn_fail(err, ENOMEM, "out of memory");
	ad->ctl_fd = -1;
	ad->q.fd = -1;
	dev->priv = ad;
	if (sn_afxdp_parse_spec(spec, ad->ifname, &ad->queue) < 0)
		return sn_fail(err, EINVAL, "'%s' is not an AF_XDP device: the form is "
			       "xdp:IFNAME or xdp:IFNAME:QUEUE (e.g. xdp:eth1:0)", spec);
	if (dev->rx_queues != 1 || dev->tx_queues != 1)
		return sn_fail(err, EINVAL, "%s: an AF_XDP device has one queue pair (its socket's "
			       "queue, the number after the second colon): open xdp:%s:Q once "
			       "per queue", spec, ad->ifname);
	ad->ifindex = if_nametoindex(ad->ifname);
	if (!ad->ifindex)
		return sn_fail(err, ENODEV, "%s: no network interface %s ('ip link' lists them)",
			       spec, ad->ifname);
	int rc = open_ctl(ad, !cfg->unicast_filter, spec, err);
	if (rc < 0)
		return rc;
	read_mac(ad, dev->mac);

	struct sn_xsk_geo geo;
	geo_of(dev->rx_pool, &geo);
	rc = check_layout(dev->rx_pool, &geo, spec, err);
	if (rc < 0)
		return rc;
	/* The kernel puts a received frame after its own headroom. */
	if (dev->mtu + 14u > dev->rx_pool->buf_size - AFXDP_KERNEL_HEADROOM)
		return sn_fail(err, EINVAL, "%s: MTU %u needs %u-byte frames; AF_XDP leaves %u "
			       "bytes of each %u-byte buffer after the kernel's %u of headroom: the "
			       "largest MTU here is %u", spec, dev->mtu, dev->mtu + 14u,
			       dev->rx_pool->buf_size - AFXDP_KERNEL_HEADROOM,
			       dev->rx_pool->buf_size, AFXDP_KERNEL_HEADROOM,
			       dev->rx_pool->buf_size - AFXDP_KERNEL_HEADROOM - 14u);
	uint32_t rx = ring_size(cfg->rx_ring_size), tx = ring_size(cfg->tx_ring_size);
	if ((rx & (rx - 1)) || (tx & (tx - 1)))
		return sn_fail(err, EINVAL, "%s: AF_XDP ring sizes are powers of two, not %u "
			       "and %u", spec, rx, tx);
	log_ctx = dev->ctx;
	libxdp_set_print(xdp_print);
	libbpf_set_print(bpf_print);
	ad->um = get_umem(dev->ctx, dev->rx_pool);
	if (!ad->um)
		return sn_fail(err, ENOMEM, "out of memory");
	rc = open_socket(ad, cfg, spec, err);
	if (rc < 0)
		return rc;

	struct afxdp_queue *q = &ad->q;
	if (sn_xsk_queue_init(&q->x, &geo) < 0)
		return sn_fail(err, ENOMEM, "out of memory");
	copy_ring(&q->x.fill, ad->fill.producer, ad->fill.consumer, ad->fill.ring, ad->fill.flags,
		  ad->fill.size);
	copy_ring(&q->x.comp, ad->comp.producer, ad->comp.consumer, ad->comp.ring, ad->comp.flags,
		  ad->comp.size);
	copy_ring(&q->x.rx, ad->rx.producer, ad->rx.consumer, ad->rx.ring, ad->rx.flags,
		  ad->rx.size);
	copy_ring(&q->x.tx, ad->tx.producer, ad->tx.consumer, ad->tx.ring, ad->tx.flags,
		  ad->tx.size);
	/* Our own indices start where the shared ones are (0 on a new ring). */
	q->x.fill.head = *ad->fill.producer;
	q->x.tx.head = *ad->tx.producer;
	q->x.rx.head = *ad->rx.consumer;
	q->x.comp.head = *ad->comp.consumer;
	q->ctx = dev->ctx;
	q->pool = dev->rx_pool;
	q->fd = xsk_socket__fd(ad->xsk);
	q->max_fill = rx < ad->fill.size ? rx : ad->fill.size;
	q->max_frame = dev->mtu + 14u;
	describe(ad);
	dev->model = ad->model;
	dev->fast.rx_burst = afxdp_rx_burst;
	dev->fast.tx_burst = afxdp_tx_burst;
	dev->fast.rxq[0] = q;
	dev->fast.txq[0] = q;
	refill(q);
	return 0;
}

/* The kernel lets go of the UMEM's buffers when the socket closes. */
static void afxdp_stop(struct sn_device *dev)
{
	struct afxdp_dev *ad = dev->priv;
	log_ctx = dev->ctx;
	dev->fast.rxq[0] = dev->fast.txq[0] = NULL;
	release_socket(ad);
}

/* Buffers still lent come home, or wait with the UMEM while its own
 * socket (which may have been this one) lives on for another device. */
static void return_lent(struct afxdp_dev *ad)
{
	struct sn_xsk_queue *x = &ad->q.x;
	struct sn_xsk_umem *u = ad->um;
	if (!x->state)
		return;
	bool park = ad->owns_umem_fd && u->users > 0;
	for (uint32_t i = 0; i < x->geo.nbufs; i++) {
		if (x->state[i] == SN_XSK_HOME)
			continue;
		if (park && u->parked_count < u->pool->size) {
			u->parked[u->parked_count++] = i;
		} else {
			struct sn_pkt *pkt = &ad->q.pool->pkts[i];
			sn_pkt_free_from_ring(&pkt, 1);
		}
	}
}

static void afxdp_release(struct sn_device *dev)
{
	struct afxdp_dev *ad = dev->priv;
	if (!ad)
		return;
	log_ctx = dev->ctx;
	release_socket(ad);
	if (ad->um) {
		return_lent(ad);
		put_umem(dev->ctx, ad->um);
	}
	sn_xsk_queue_free(&ad->q.x);
	if (ad->ctl_fd >= 0)
		close(ad->ctl_fd);
	free(ad);
	dev->priv = NULL;
}

static int read_sys_net(const char *ifname, const char *name, char *out, size_t len)
{
	char path[96];
	/* Empty until read: the analyzers do not see fgets fill it. */
	out[0] = '\0';
	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", ifname, name);
	FILE *f = fopen(path, "re");
	if (!f)
		return errno ? -errno : -EIO;
	bool ok = fgets(out, (int)len, f) != NULL;
	fclose(f);
	return ok ? 0 : -EIO;
}

static int afxdp_link(struct sn_device *dev, struct sn_link *link)
{
	struct afxdp_dev *ad = dev->priv;
	char text[32];
	*link = (struct sn_link){ 0 };
	int rc = read_sys_net(ad->ifname, "carrier", text, sizeof(text));
	if (rc < 0)
		return rc == -EINVAL ? 0 : rc;   /* EINVAL: the interface is down */
	link->up = text[0] == '1';
	if (read_sys_net(ad->ifname, "speed", text, sizeof(text)) == 0) {
		long s = strtol(text, NULL, 10);
		link->speed_mbps = s > 0 ? (uint32_t)s : 0;
	}
	return 0;
}

static void afxdp_queue_stats(struct sn_device *dev, uint16_t qn, struct sn_queue_stats *st)
{
	struct afxdp_dev *ad = dev->priv;
	const struct afxdp_queue *q = &ad->q;
	(void)qn;
	st->rx_packets = sn_counter_read(&q->rx_packets);
	st->rx_bytes = sn_counter_read(&q->rx_bytes);
	st->rx_errors = sn_counter_read(&q->rx_errors);
	st->tx_packets = sn_counter_read(&q->tx_packets);
	st->tx_bytes = sn_counter_read(&q->tx_bytes);
	st->tx_errors = sn_counter_read(&q->tx_errors);
	st->device_errors = sn_counter_read(&q->x.device_errors);
}

/* The software counters, and what the kernel counted for the socket:
 * frames it dropped (rx ring full, no fill buffer: rx_drops, the latter
 * also rx_starved) and descriptors of ours it found invalid (errors). */
static void afxdp_stats(struct sn_device *dev, struct sn_stats *stats)
{
	struct afxdp_dev *ad = dev->priv;
	struct sn_queue_stats st = { 0 };
	afxdp_queue_stats(dev, 0, &st);
	stats->rx_packets = st.rx_packets;
	stats->rx_bytes = st.rx_bytes;
	stats->rx_errors = st.rx_errors;
	stats->tx_packets = st.tx_packets;
	stats->tx_bytes = st.tx_bytes;
	stats->tx_errors = st.tx_errors;
	stats->device_errors = st.device_errors;
	struct xdp_statistics ks = { 0 };
	socklen_t len = sizeof(ks);
	if (ad->q.fd >= 0 && getsockopt(ad->q.fd, SOL_XDP, XDP_STATISTICS, &ks, &len) == 0) {
		stats->rx_drops = ks.rx_dropped + ks.rx_ring_full;
		stats->rx_starved = ks.rx_fill_ring_empty_descs;
		stats->rx_errors += ks.rx_invalid_descs;
		stats->tx_errors += ks.tx_invalid_descs;
	}
}

static enum sn_dev_state afxdp_check(struct sn_device *dev)
{
	struct afxdp_dev *ad = dev->priv;
	if (if_nametoindex(ad->ifname) != ad->ifindex)
		return sn_dev_note(dev, SN_DEV_GONE, "interface %s is gone", ad->ifname);
	if (sn_xsk_queue_out_of_step(&ad->q.x))
		return sn_dev_note(dev, SN_DEV_OUT_OF_STEP, "the kernel's index of an AF_XDP "
				   "ring on %s is more than a ring away from ours", ad->ifname);
	/* Compared with the last check, which kicked: a kernel that takes
	 * and completes nothing in between is reported, not waited on. */
	if (sn_xsk_tx_stalled(&ad->q.x))
		return sn_dev_note(dev, SN_DEV_TX_STALLED, "%u frames queued on %s queue %u and "
				   "the kernel has taken or completed none for a check interval",
				   ad->q.x.in_tx, ad->ifname, ad->queue);
	/* Frames sent while the program was idle may wait for a kick. */
	if (ad->q.x.in_tx)
		kick(&ad->q);
	return SN_DEV_OK;
}

const struct sn_driver sn_afxdp_driver = {
	.name = "afxdp",
	.match = afxdp_match,
	.start = afxdp_start,
	.stop = afxdp_stop,
	.release = afxdp_release,
	.link = afxdp_link,
	.stats = afxdp_stats,
	.check = afxdp_check,
	.queue_stats = afxdp_queue_stats,
	.kernel_driven = true,
};
