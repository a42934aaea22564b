package io.shadowmmu.hostmm.mm;

/** Why a memory operation or fault failed. None of these kills an actor: they are replies. */
public enum Errno {
    /** No mapping covers the address (SIGSEGV, SEGV_MAPERR). */
    SEGV_MAPERR,
    /** The mapping does not allow the access (SIGSEGV, SEGV_ACCERR). */
    SEGV_ACCERR,
    /** File page beyond end of file (SIGBUS). */
    SIGBUS,
    /** Out of physical memory (VM_FAULT_OOM / ENOMEM). */
    ENOMEM,
    /** Bad arguments (EINVAL). */
    EINVAL,
    /** The non-blockable operation could not proceed without waiting (EAGAIN). */
    EAGAIN,
    /** The process has exited. */
    ESRCH
}
