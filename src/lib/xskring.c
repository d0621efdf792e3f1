#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "counter.h"
#include "xskring.h"

int sn_xsk_geo_check(const struct sn_xsk_geo *geo)
{
	if (geo->nbufs == 0 || geo->buf_size == 0 || geo->umem_size == 0 ||
	    geo->umem_size > SN_XSK_ADDR_MASK || geo->buf_size > UINT16_MAX + 1u)
		return -EINVAL;
	if (geo->bufs_per_page) {
		if (geo->page_size == 0 ||
		    (uint64_t)geo->bufs_per_page * geo->buf_size > geo->page_size)
			return -EINVAL;
	}
	uint64_t last = sn_xsk_buf_offset(geo, geo->nbufs - 1);
	return last + geo->buf_size <= geo->umem_size ? 0 : -EINVAL;
}

uint64_t sn_xsk_buf_offset(const struct sn_xsk_geo *geo, uint32_t i)
{
	if (geo->bufs_per_page == 0)
		return (uint64_t)i * geo->buf_size;
	return (uint64_t)(i / geo->bufs_per_page) * geo->page_size +
	       (uint64_t)(i % geo->bufs_per_page) * geo->buf_size;
}

bool sn_xsk_buf_of(const struct sn_xsk_geo *geo, uint64_t off, uint32_t *buf,
		   uint32_t *within)
{
	uint64_t index;
	if (off >= geo->umem_size)
		return false;
	if (geo->bufs_per_page == 0) {
		index = off / geo->buf_size;
	} else {
		uint64_t slot = (off % geo->page_size) / geo->buf_size;
		if (slot >= geo->bufs_per_page)
			return false;        /* a page's tail holds no buffer */
		index = off / geo->page_size * geo->bufs_per_page + slot;
	}
	if (index >= geo->nbufs)
		return false;
	*buf = (uint32_t)index;
	*within = (uint32_t)(off - sn_xsk_buf_offset(geo, (uint32_t)index));
	return true;
}

int sn_xsk_queue_init(struct sn_xsk_queue *q, const struct sn_xsk_geo *geo)
{
	q->geo = *geo;
	q->state = calloc(geo->nbufs, sizeof(*q->state));
	q->tx_off = calloc(geo->nbufs, sizeof(*q->tx_off));
	q->in_fill = q->in_tx = 0;
	q->device_errors = 0;
	q->look_tx_cons = q->look_comp_prod = 0;
	q->look_waiting = false;
	if (!q->state || !q->tx_off) {
		sn_xsk_queue_free(q);
		return -ENOMEM;
	}
	return 0;
}

void sn_xsk_queue_free(struct sn_xsk_queue *q)
{
	free(q->state);
	free(q->tx_off);
	q->state = NULL;
	q->tx_off = NULL;
}

static void lie(struct sn_xsk_queue *q)
{
	sn_count(&q->device_errors, 1);
}

/* Room on a ring we produce into: the kernel's consumer may trail our
 * producer by at most a ring. */
static uint32_t room(struct sn_xsk_queue *q, const struct sn_xsk_ring *r)
{
	uint32_t cons = __atomic_load_n(r->cons, __ATOMIC_ACQUIRE);
	uint32_t used = r->head - cons;
	if (used > r->size) {
		lie(q);
		return 0;
	}
	return r->size - used;
}

/* Entries waiting on a ring the kernel produces into: its producer may
 * lead our consumer by at most a ring. */
static uint32_t waiting(struct sn_xsk_queue *q, const struct sn_xsk_ring *r)
{
	uint32_t prod = __atomic_load_n(r->prod, __ATOMIC_ACQUIRE);
	uint32_t ready = prod - r->head;
	if (ready > r->size) {
		lie(q);
		return 0;
	}
	return ready;
}

uint32_t sn_xsk_fill_room(struct sn_xsk_queue *q)
{
	return room(q, &q->fill);
}

void sn_xsk_fill_put(struct sn_xsk_queue *q, uint32_t buf)
{
	uint64_t *slots = q->fill.entries;
	slots[q->fill.head & q->fill.mask] = sn_xsk_buf_offset(&q->geo, buf);
	q->fill.head++;
	q->state[buf] = SN_XSK_IN_FILL;
	q->in_fill++;
}

/* One rx entry, read once from shared memory, to a checked frame. */
static bool check_rx(struct sn_xsk_queue *q, uint64_t addr, uint32_t len,
		     struct sn_xsk_frame *f)
{
	uint64_t base = addr & SN_XSK_ADDR_MASK;
	uint64_t shift = addr >> SN_XSK_OFFSET_SHIFT;
	uint32_t buf, within;
	/* The buffer that holds the address as lent (bits 0-47), and the
	 * frame's offset inside it: the kernel's offset in bits 48-63 plus
	 * any the address itself carries. */
	if (!sn_xsk_buf_of(&q->geo, base, &buf, &within))
		return false;
	if (q->state[buf] != SN_XSK_IN_FILL)
		return false;             /* not lent, or lent to send */
	uint64_t off = within + shift;
	if (len == 0 || off >= q->geo.buf_size || len > q->geo.buf_size - off)
		return false;
	*f = (struct sn_xsk_frame){ .buf = buf, .off = (uint32_t)off, .len = len };
	return true;
}

uint32_t sn_xsk_rx_take(struct sn_xsk_queue *q, struct sn_xsk_frame *out, uint32_t n)
{
	uint32_t ready = waiting(q, &q->rx);
	uint32_t take = ready < n ? ready : n, got = 0;
	const struct sn_xsk_desc *descs = q->rx.entries;
	for (uint32_t i = 0; i < take; i++) {
		const struct sn_xsk_desc *d = &descs[q->rx.head++ & q->rx.mask];
		uint64_t addr = __atomic_load_n(&d->addr, __ATOMIC_RELAXED);
		uint32_t len = __atomic_load_n(&d->len, __ATOMIC_RELAXED);
		if (!check_rx(q, addr, len, &out[got])) {
			lie(q);
			continue;
		}
		q->state[out[got].buf] = SN_XSK_HOME;
		q->in_fill--;
		got++;
	}
	if (take)
		__atomic_store_n(q->rx.cons, q->rx.head, __ATOMIC_RELEASE);
	return got;
}

uint32_t sn_xsk_tx_room(struct sn_xsk_queue *q)
{
	return room(q, &q->tx);
}

void sn_xsk_tx_put(struct sn_xsk_queue *q, uint32_t buf, uint32_t off, uint32_t len)
{
	struct sn_xsk_desc *descs = q->tx.entries;
	descs[q->tx.head & q->tx.mask] = (struct sn_xsk_desc){
		.addr = sn_xsk_buf_offset(&q->geo, buf) + off, .len = len };
	q->tx.head++;
	q->state[buf] = SN_XSK_IN_TX;
	q->tx_off[buf] = (uint16_t)off;
	q->in_tx++;
}

uint32_t sn_xsk_comp_take(struct sn_xsk_queue *q, uint32_t *bufs, uint32_t n)
{
	uint32_t ready = waiting(q, &q->comp);
	uint32_t take = ready < n ? ready : n, got = 0;
	const uint64_t *slots = q->comp.entries;
	for (uint32_t i = 0; i < take; i++) {
		uint64_t addr = __atomic_load_n(&slots[q->comp.head++ & q->comp.mask],
						__ATOMIC_RELAXED);
		uint32_t buf, within;
		/* Exactly the address sent, of a buffer this queue sends. */
		if (!sn_xsk_buf_of(&q->geo, addr, &buf, &within) ||
		    q->state[buf] != SN_XSK_IN_TX || within != q->tx_off[buf]) {
			lie(q);
			continue;
		}
		q->state[buf] = SN_XSK_HOME;
		q->in_tx--;
		bufs[got++] = buf;
	}
	if (take)
		__atomic_store_n(q->comp.cons, q->comp.head, __ATOMIC_RELEASE);
	return got;
}

bool sn_xsk_tx_stalled(struct sn_xsk_queue *q)
{
	uint32_t cons = __atomic_load_n(q->tx.cons, __ATOMIC_ACQUIRE);
	uint32_t prod = __atomic_load_n(q->comp.prod, __ATOMIC_ACQUIRE);
	bool waiting = q->in_tx > 0;
	bool stalled = waiting && q->look_waiting && cons == q->look_tx_cons &&
		       prod == q->look_comp_prod;
	q->look_tx_cons = cons;
	q->look_comp_prod = prod;
	q->look_waiting = waiting;
	return stalled;
}

bool sn_xsk_queue_out_of_step(const struct sn_xsk_queue *q)
{
	const struct sn_xsk_ring *producing[] = { &q->fill, &q->tx };
	const struct sn_xsk_ring *consuming[] = { &q->rx, &q->comp };
	for (int i = 0; i < 2; i++) {
		const struct sn_xsk_ring *r = producing[i];
		if (r->head - __atomic_load_n(r->cons, __ATOMIC_ACQUIRE) > r->size)
			return true;
		r = consuming[i];
		if (__atomic_load_n(r->prod, __ATOMIC_ACQUIRE) - r->head > r->size)
			return true;
	}
	return false;
}
