/* AF_XDP devices (afxdp.c): a kernel network interface's queue, opened by
 * a spec instead of a PCI address. */
#ifndef SN_AFXDP_H
#define SN_AFXDP_H

#include <net/if.h>
#include <stdint.h>

#define SN_AFXDP_PREFIX "xdp:"

/* "xdp:IFNAME" or "xdp:IFNAME:QUEUE" (queue 0 when absent) to its parts;
 * -EINVAL for anything else. Needs no libxdp: the core recognises the
 * spec in a build without AF_XDP too. */
int sn_afxdp_parse_spec(const char *spec, char ifname[IF_NAMESIZE], uint32_t *queue);

/* Built only with libxdp and libbpf (SAFENIC_AFXDP). */
struct sn_driver;
extern const struct sn_driver sn_afxdp_driver;

#endif
