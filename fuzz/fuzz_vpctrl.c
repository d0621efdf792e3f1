/* The packed control queue (sn_vpctrl in src/lib/vpacked.c) against a
 * device whose every write comes from the fuzzer: any descriptor slot
 * (id, length, flags), the ack byte.
 *
 * Input: byte 0 picks the queue size (4, 8 or 16); the rest is a script:
 * the driver posts a command (with a length that may be too long or
 * zero) or looks for the answer; the device answers honestly in the
 * list's first slot or writes any slot or the ack byte. After every step
 * the result is held against what the spec allows: a command is believed
 * (0) only when the list's first slot holds this lap's used pattern with
 * the command's id and a length of one byte, the list's other two slots
 * are still as the driver wrote them, the slot past the list holds no
 * used descriptor of its lap, and the ack is OK; -EIO for the same with
 * ack ERR; -EAGAIN while the first slot is still available and nothing
 * else is wrong; anything else is -EPROTO, after which every call says
 * -EPROTO. A posted command is a list of three descriptors pointing at
 * the command buffer and the ack byte and nowhere else, the same id in
 * each. The ring is allocated at exactly its size, so ASan sees any
 * access past it. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "vpacked.h"

#define DATA_IOVA 0x100000u
#define ACK_IOVA 0x200000u
#define LAP (VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED)

struct model {
	bool pending, broken;
	uint16_t pos;                /* the command list's first position */
};

static uint16_t used_bits(uint16_t size, uint16_t pos)
{
	return (pos & size) ? 0 : LAP;
}

static uint16_t avail_bits(uint16_t size, uint16_t pos)
{
	return (pos & size) ? VRING_PACKED_DESC_F_USED : VRING_PACKED_DESC_F_AVAIL;
}

static uint16_t bits_at(const struct sn_vpctrl *cq, uint16_t pos)
{
	return cq->desc[pos & cq->mask].flags & LAP;
}

static void check_post(struct sn_vpctrl *cq, struct model *m, struct fuzz_in *in)
{
	uint8_t data[SN_VCTRL_DATA_ROOM + 8];
	size_t len = fuzz_u16(in) % sizeof(data);
	uint16_t before = cq->avail_pos;
	memset(data, 0x5a, sizeof(data));
	int rc = sn_vpctrl_post(cq, fuzz_u8(in), fuzz_u8(in), data, len);
	int want = m->broken ? -EPROTO : m->pending ? -EBUSY
		 : (len == 0 || len > SN_VCTRL_DATA_ROOM - 2) ? -EMSGSIZE : 0;
	FUZZ_CHECK(rc == want, "post of %zu bytes: %d, expected %d", len, rc, want);
	if (rc < 0) {
		FUZZ_CHECK(cq->avail_pos == before, "a refused post moved the driver");
		return;
	}
	m->pending = true;
	m->pos = before;
	FUZZ_CHECK(cq->avail_pos == (uint16_t)(before + 3), "the list is not three slots");
	const struct vring_packed_desc *d0 = &cq->desc[before & cq->mask],
				       *d1 = &cq->desc[(before + 1) & cq->mask],
				       *d2 = &cq->desc[(before + 2) & cq->mask];
	uint16_t size = cq->size;
	FUZZ_CHECK(d0->addr == DATA_IOVA && d0->len == 2 &&
			   d0->flags == (VRING_DESC_F_NEXT | avail_bits(size, before)),
		   "header descriptor");
	FUZZ_CHECK(d1->addr == DATA_IOVA + 2 && d1->len == len &&
			   d1->flags == (VRING_DESC_F_NEXT | avail_bits(size, (uint16_t)(before + 1))),
		   "data descriptor");
	FUZZ_CHECK(d2->addr == ACK_IOVA && d2->len == 1 &&
			   d2->flags == (VRING_DESC_F_WRITE | avail_bits(size, (uint16_t)(before + 2))),
		   "ack descriptor");
	FUZZ_CHECK(d0->id == d1->id && d1->id == d2->id, "ids differ within the list");
}

static void check_poll(struct sn_vpctrl *cq, struct model *m)
{
	/* What the device wrote, before the driver looks. */
	uint16_t size = cq->size, p = m->pos;
	const struct vring_packed_desc *d = &cq->desc[p & cq->mask];
	uint16_t id = d->id, bits = bits_at(cq, p);
	uint32_t len = d->len;
	uint8_t ack = *cq->ack;
	bool others = bits_at(cq, (uint16_t)(p + 1)) == avail_bits(size, (uint16_t)(p + 1)) &&
		      bits_at(cq, (uint16_t)(p + 2)) == avail_bits(size, (uint16_t)(p + 2)) &&
		      bits_at(cq, (uint16_t)(p + 3)) != used_bits(size, (uint16_t)(p + 3));
	struct sn_vctrl_why why;
	int rc = sn_vpctrl_poll(cq, &why);
	int want;

	if (m->broken)
		want = -EPROTO;
	else if (!m->pending)
		want = -EINVAL;
	else if (bits == avail_bits(size, p) && others)
		want = -EAGAIN;
	else if (bits == used_bits(size, p) && others && id == 0 && len == 1 &&
		 ack == VIRTIO_NET_OK)
		want = 0;
	else if (bits == used_bits(size, p) && others && id == 0 && len == 1 &&
		 ack == VIRTIO_NET_ERR)
		want = -EIO;
	else
		want = -EPROTO;
	FUZZ_CHECK(rc == want, "poll: %d, expected %d (bits %#x, others %d, id %u, len %u, "
		   "ack %u)", rc, want, bits, others, id, len, ack);
	if (m->pending && !m->broken && want != -EAGAIN) {
		m->pending = false;
		m->broken = want == -EPROTO;
		FUZZ_CHECK(cq->used_pos == (uint16_t)(p + 3), "the driver did not move past the list");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size, 0 };
	uint16_t qsize = (uint16_t)(4u << (fuzz_u8(&in) % 3));
	void *ring = calloc(1, sn_vpacked_ring_bytes(qsize));
	struct vring_packed_event *event = calloc(1, sizeof(*event));
	uint8_t *buf = malloc(SN_VCTRL_DATA_ROOM);
	uint8_t *ack = malloc(1);
	struct sn_vpctrl cq;
	struct model m = { 0 };

	FUZZ_CHECK(ring && event && buf && ack, "out of memory");
	FUZZ_CHECK(sn_vpctrl_init(&cq, qsize, ring, event, buf, DATA_IOVA, ack, ACK_IOVA) == 0,
		   "sn_vpctrl_init");
	*ack = 0;
	for (int steps = 0; steps < 256 && !fuzz_done(&in); steps++) {
		uint8_t op = fuzz_u8(&in);
		switch (op % 5) {
		case 0:
			check_post(&cq, &m, &in);
			break;
		case 1: { /* an honest answer in the list's first slot */
			struct vring_packed_desc *d = &cq.desc[m.pos & cq.mask];
			d->id = (op & 0x80) ? 0 : fuzz_u16(&in);
			d->len = (op & 0x40) ? 1 : fuzz_u32(&in);
			__atomic_store_n(&d->flags, used_bits(qsize, m.pos), __ATOMIC_RELEASE);
			break;
		}
		case 2:
			*cq.ack = (op & 0x80) ? (uint8_t)(op >> 6 & 1) : fuzz_u8(&in);
			break;
		case 3: { /* any slot, anything */
			struct vring_packed_desc *d = &cq.desc[fuzz_u8(&in) & cq.mask];
			d->id = fuzz_u16(&in);
			d->len = fuzz_u32(&in);
			d->flags = fuzz_u16(&in);
			break;
		}
		case 4:
			check_poll(&cq, &m);
			break;
		}
	}
	free(ring);
	free(event);
	free(buf);
	free(ack);
	return 0;
}
