/* The balloon's control side (balloon.h): targets, what it reports, the
 * statistics interval, and the policy towards assigned devices. Main
 * thread, except the policy queries, which the device's thread makes under
 * b->lock too. */
#include <errno.h>
#include <string.h>

#include "isle/log.h"
#include "isle/util.h"
#include "core/vm.h"
#include "virtio/balloon_priv.h"

/* The policy, under b->lock (balloon.h). Behind isle's VT-d every assigned
 * function has its own container holding only what the guest mapped. */
enum balloon_policy balloon_policy(const struct balloon *b)
{
	if (!b->vfio_pins)
		return BP_FREE;
	if (b->opt.vfio_allow)
		return BP_VFIO_ALLOW;
	return b->vm->vtd ? BP_VFIO_IOMMU : BP_VFIO_REFUSE;
}

bool balloon_may_discard(const struct balloon *b)
{
	return balloon_policy(b) != BP_VFIO_REFUSE;
}

const char *balloon_policy_name(const struct balloon *b)
{
	static const char *const names[] = {
		[BP_FREE] = "free", [BP_VFIO_REFUSE] = "vfio-refuse",
		[BP_VFIO_IOMMU] = "vfio-iommu", [BP_VFIO_ALLOW] = "vfio-allow",
	};

	return names[balloon_policy(b)];
}

struct balloon *balloon_of(struct vm *vm)
{
	return device_priv_of_type(vm, &balloon_type);
}

void balloon_get_info(struct balloon *b, struct balloon_info *out)
{
	uint64_t now;

	/* now is read under the lock: stats delivered between the two reads would make the
	 * age negative (an unsigned wrap) */
	pthread_mutex_lock(&b->lock);
	now = balloon_now_ns();
	*out = (struct balloon_info){
		.ram = b->ram_pages << BQ_PAGE_SHIFT,
		.target_pages = b->num_pages, .actual_pages = b->actual,
		.driver_ok = b->active, .deflate_on_oom = b->opt.deflate_on_oom,
		.free_page_reporting = b->opt.free_page_reporting,
		.vfio_allow = b->opt.vfio_allow, .stats_s = b->stats_s,
		.features = b->features, .policy = balloon_policy_name(b),
		.vfio_devices = b->vfio_pins, .c = b->bq.c, .st = b->bq.st,
		.stats_age_ms = !b->bq.st.when_ns ? -1
				: now > b->bq.st.when_ns ? (int64_t)((now - b->bq.st.when_ns) / 1000000)
							 : 0,
	};
	pthread_mutex_unlock(&b->lock);
}

int balloon_set_target(struct balloon *b, uint64_t bytes, char *err, size_t errlen)
{
	uint64_t ram = b->ram_pages << BQ_PAGE_SHIFT;
	int r = 0;

	/* a target of 0 (deflate everything) is always allowed, however small the RAM */
	if (bytes && (bytes >= ram || ram - bytes < BALLOON_MIN_KEEP))
		return err_msg(err, errlen, -EINVAL,
			       "a balloon of %lluM would leave the guest less than %lluM of its "
			       "%lluM", (unsigned long long)(bytes >> 20), BALLOON_MIN_KEEP >> 20,
			       (unsigned long long)(ram >> 20));
	pthread_mutex_lock(&b->lock);
	if (bytes >= BQ_PAGE_SIZE && !balloon_may_discard(b))
		r = err_msg(err, errlen, -EPERM,
			    "balloon: %u assigned device(s) pin all guest RAM: inflating is refused "
			    "(policy vfio-refuse; vfio=allow for mediated devices)", b->vfio_pins);
	else
		b->num_pages = (uint32_t)(bytes >> BQ_PAGE_SHIFT);
	pthread_mutex_unlock(&b->lock);
	if (!r)
		virtio_pci_config_changed(&b->vp);
	return r;
}

bool balloon_has_stats(const struct balloon *b)
{
	return b->opt.stats_s != 0;
}

int balloon_set_stats_interval(struct balloon *b, unsigned int s, char *err, size_t errlen)
{
	int r;

	if (!b->opt.stats_s)
		return err_msg(err, errlen, -ENOTSUP,
			       "the balloon has no statistics queue (stats=SECONDS at boot)");
	if (s < 1 || s > BALLOON_STATS_MAX_S)
		return err_msg(err, errlen, -EINVAL, "stats interval: 1 to %d seconds",
			       BALLOON_STATS_MAX_S);
	pthread_mutex_lock(&b->lock);
	r = balloon_timer_set(b, s);
	if (!r)
		b->stats_s = s;
	pthread_mutex_unlock(&b->lock);
	return r ? err_msg(err, errlen, r, "stats timer: %s", strerror(-r)) : 0;
}

/* Under b->lock: whether a device may be assigned now. Pages already given
 * back would be pinned again by the device's container (behind the VT-d
 * too: a new container is the identity until the guest programs it), so
 * a balloon holding pages refuses. A target not yet followed is refused
 * only where the device makes the policy vfio-refuse, and so is a VM that
 * starts pre-ballooned (its next boot would refuse the device): behind
 * the VT-d nothing has gone yet and what goes next is the policy's call.
 * The same answer at boot in either order of the devices. */
static int balloon_vfio_refused(const struct balloon *b, char *err, size_t errlen)
{
	if (b->opt.vfio_allow || (!b->actual && b->vm->vtd))
		return 0;
	if (!b->actual && !b->num_pages)
		return !b->opt.size ? 0 : err_msg(err, errlen, -EBUSY,
			       "the VM starts with a balloon of %lluM (maxmem above memory, or "
			       "size=): an assigned device pins all guest RAM (iommu=on, or "
			       "balloon vfio=allow for mediated devices)",
			       (unsigned long long)(b->opt.size >> 20));
	return err_msg(err, errlen, -EBUSY,
		       "the balloon holds %lluM (target %lluM): deflate it first (isle mem-set, "
		       "vm.resize desired_balloon 0); an assigned device pins all guest RAM",
		       (unsigned long long)((uint64_t)b->actual << BQ_PAGE_SHIFT >> 20),
		       (unsigned long long)((uint64_t)b->num_pages << BQ_PAGE_SHIFT >> 20));
}

/* check and pin: the same question, pin also counts the device. */
static int balloon_vfio_admit(struct vm *vm, bool count, char *err, size_t errlen)
{
	struct balloon *b = balloon_of(vm);
	int r;

	if (!b)
		return 0;
	pthread_mutex_lock(&b->lock);
	r = balloon_vfio_refused(b, err, errlen);
	if (!r && count)
		b->vfio_pins++;
	pthread_mutex_unlock(&b->lock);
	return r;
}

int balloon_vfio_check(struct vm *vm, char *err, size_t errlen)
{
	return balloon_vfio_admit(vm, false, err, errlen);
}

int balloon_vfio_pin(struct vm *vm, char *err, size_t errlen)
{
	return balloon_vfio_admit(vm, true, err, errlen);
}

void balloon_vfio_unpin(struct vm *vm)
{
	struct balloon *b = balloon_of(vm);

	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	if (b->vfio_pins)
		b->vfio_pins--;
	pthread_mutex_unlock(&b->lock);
}
