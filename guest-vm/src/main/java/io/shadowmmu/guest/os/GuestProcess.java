package io.shadowmmu.guest.os;

import java.util.ArrayList;
import java.util.List;

/** A process of the guest OS: its mappings and its page table. Owned by the guest OS model. */
public final class GuestProcess {
    private final int pid;
    private final String name;
    private final GuestPageTable pageTable;
    private final List<GuestVma> vmas = new ArrayList<>();

    GuestProcess(int pid, String name, GuestPageTable pageTable, List<GuestVma> vmas) {
        this.pid = pid;
        this.name = name;
        this.pageTable = pageTable;
        this.vmas.addAll(vmas);
    }

    public int pid() {
        return pid;
    }

    public String name() {
        return name;
    }

    public GuestPageTable pageTable() {
        return pageTable;
    }

    public long cr3() {
        return pageTable.cr3();
    }

    public List<GuestVma> vmas() {
        return List.copyOf(vmas);
    }

    GuestVma vmaFor(long gva) {
        for (GuestVma v : vmas) {
            if (v.contains(gva)) {
                return v;
            }
        }
        return null;
    }

    void replaceVmas(List<GuestVma> next) {
        vmas.clear();
        vmas.addAll(next);
    }
}
