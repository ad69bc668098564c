/* kvm-touch ROUNDS — a minimal KVM guest for record-qemu.sh's `kvm` workload: each round creates a VM with 1 MiB of
 * anonymous guest memory and one vCPU in real mode whose code writes one byte into each 4 KiB page from 64 KiB to
 * 640 KiB, reports through an I/O port and halts. Every first write to a page exits to the host (a nested page fault),
 * which faults the backing page in (a zeroed GFP_HIGHUSER_MOVABLE allocation inside a guest exit); the I/O write and
 * the halt are exits too. The VM is destroyed at the end of each round, so its pages are freed and the next round
 * faults them again. Static, no library beyond libc, so it runs from a busybox initramfs. */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static const unsigned char guest_code[] = {
    0xB8, 0x00, 0x10,             /* mov ax, 0x1000        ; first data segment: 64 KiB      */
    0x8E, 0xD8,                   /* loop: mov ds, ax                                          */
    0xC6, 0x06, 0x00, 0x00, 0x01, /* mov byte [0], 1       ; first touch of this guest page  */
    0x05, 0x00, 0x01,             /* add ax, 0x100         ; next 4 KiB                      */
    0x3D, 0x00, 0xA0,             /* cmp ax, 0xA000        ; up to 640 KiB                   */
    0x72, 0xF1,                   /* jb loop                                                   */
    0xBA, 0x10, 0x00,             /* mov dx, 0x10                                              */
    0xEE,                         /* out dx, al            ; KVM_EXIT_IO to user space       */
    0xF4,                         /* hlt                   ; KVM_EXIT_HLT                    */
};

static void die(const char *what) { perror(what); exit(1); }

static void one_round(int kvm, long run_size)
{
    const size_t mem_size = 1 << 20;
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) die("KVM_CREATE_VM");
    unsigned char *mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) die("mmap guest memory");
    memcpy(mem + 0x1000, guest_code, sizeof guest_code);
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = mem_size, .userspace_addr = (unsigned long)mem };
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0) die("KVM_CREATE_VCPU");
    struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED) die("mmap kvm_run");
    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) die("KVM_GET_SREGS");
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) die("KVM_SET_SREGS");
    struct kvm_regs regs = { .rip = 0x1000, .rflags = 2 };
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) die("KVM_SET_REGS");
    for (;;) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
        if (run->exit_reason == KVM_EXIT_IO) continue;
        if (run->exit_reason == KVM_EXIT_HLT) break;
        fprintf(stderr, "kvm-touch: unexpected exit reason %u\n", run->exit_reason);
        exit(1);
    }
    munmap(run, run_size);
    close(vcpu);
    close(vm);
    munmap(mem, mem_size);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 10;
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) die("/dev/kvm");
    long run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size <= 0) die("KVM_GET_VCPU_MMAP_SIZE");
    for (int i = 0; i < rounds; i++) one_round(kvm, run_size);
    printf("kvm-touch: %d rounds\n", rounds);
    return 0;
}
