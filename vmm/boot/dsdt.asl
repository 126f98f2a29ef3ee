/*
 * The isle DSDT (owner: acpi.c). Compiled at build time by iasl into a C
 * array that acpi_build() copies into guest memory.
 *
 * Contract: every value that depends on the VM's configuration is a Name
 * initialised with a DSDT_MAGIC_* placeholder from acpi_dsdt.h; acpi.c
 * patches each placeholder (which must occur exactly once) and recomputes
 * the checksum. Revision 2 makes integers 64-bit, so the placeholders stay
 * QWordConsts and the 64-bit window survives.
 *
 * Contents: the PCIe host bridge (segment 0, bus 0, ECAM described by MCFG)
 * with its windows, COM1, the motherboard resources that reserve ECAM (Linux
 * only trusts MCFG when a PNP0C02 device reserves it) and \_S5 for the
 * hardware-reduced sleep control register, and ACPI PCI hotplug with the
 * power button behind a Generic Event Device.
 */
#include "acpi_dsdt.h"

DefinitionBlock ("", "DSDT", 2, "ISLE  ", "ISLEDSDT", 1)
{
    /* SLP_TYPa, SLP_TYPb: poweroff writes SLP_TYPa | SLP_EN to SLEEP_CONTROL_REG. */
    Name (_S5, Package () { DSDT_S5_SLP_TYP, Zero })

    Scope (\_SB)
    {
        Device (PCI0)
        {
            Name (_HID, EisaId ("PNP0A08"))
            Name (_CID, EisaId ("PNP0A03"))
            Name (_SEG, Zero)
            Name (_BBN, Zero)
            Name (_UID, Zero)

            /* Patched by acpi.c. */
            Name (BUSN, DSDT_MAGIC_BUSES)
            Name (PIOB, DSDT_MAGIC_PIO_BASE)
            Name (PIOL, DSDT_MAGIC_PIO_SIZE)
            Name (M32B, DSDT_MAGIC_MMIO32_BASE)
            Name (M32L, DSDT_MAGIC_MMIO32_SIZE)
            Name (M64B, DSDT_MAGIC_MMIO64_BASE)
            Name (M64L, DSDT_MAGIC_MMIO64_SIZE)

            /*
             * Ports below 0xcf8 stay routed through the bridge as on a PC
             * (COM1, the sleep and test ports); the PCI I/O window is the
             * range the VMM decodes BARs in, not all of 0xd00-0xffff, so a
             * guest that moves a BAR keeps it where the VMM still sees it.
             * Both memory windows are non-prefetchable: Linux will not put
             * a non-prefetchable BAR in a prefetchable window, and pass-
             * through devices have 64-bit non-prefetchable BARs.
             */
            Name (CRS0, ResourceTemplate ()
            {
                WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
                    0x0000, 0x0000, 0x0000, 0x0000, 0x0001,,, RBUS)
                IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08)
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8)
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000, 0x0000, 0x0000, 0x0000, 0x0001,,, RPIO)
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed,
                    NonCacheable, ReadWrite,
                    0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000001,,, RM32)
            })
            Name (CRS1, ResourceTemplate ()
            {
                QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed,
                    NonCacheable, ReadWrite,
                    0x0000000000000000, 0x0000000000000000, 0x0000000000000000,
                    0x0000000000000000, 0x0000000000000001,,, RM64)
            })

            /* Fills the templates from the patched Names on every call (the
             * same values each time); Serialized because it creates fields. */
            Method (_CRS, 0, Serialized)
            {
                CreateWordField (CRS0, ^RBUS._MAX, BMAX)
                CreateWordField (CRS0, ^RBUS._LEN, BLEN)
                CreateWordField (CRS0, ^RPIO._MIN, IMIN)
                CreateWordField (CRS0, ^RPIO._MAX, IMAX)
                CreateWordField (CRS0, ^RPIO._LEN, ILEN)
                CreateDWordField (CRS0, ^RM32._MIN, PMIN)
                CreateDWordField (CRS0, ^RM32._MAX, PMAX)
                CreateDWordField (CRS0, ^RM32._LEN, PLEN)
                CreateQWordField (CRS1, ^RM64._MIN, QMIN)
                CreateQWordField (CRS1, ^RM64._MAX, QMAX)
                CreateQWordField (CRS1, ^RM64._LEN, QLEN)

                BMAX = BUSN - One
                BLEN = BUSN
                IMIN = PIOB
                IMAX = PIOB + PIOL - One
                ILEN = PIOL
                PMIN = M32B
                PMAX = M32B + M32L - One
                PLEN = M32L
                If (M64L == Zero)
                {
                    Return (CRS0)
                }
                QMIN = M64B
                QMAX = M64B + M64L - One
                QLEN = M64L
                Return (ConcatenateResTemplate (CRS0, CRS1))
            }


            /*
             * ACPI PCI hotplug (vmm/devices/hotplug.c), as Linux's acpiphp
             * expects it: every slot of bus 0 is an ejectable device; the
             * GED's _EVT calls PCNT, which sends Device Check (1) to slots
             * whose bit is in PCIU and Eject Request (3) to those in PCID
             * (both read-to-clear); _EJ0 writes the slot's bit to B0EJ
             * once the guest let go of the device.
             */
            OperationRegion (HPRG, SystemIO, DSDT_HOTPLUG_PORT, DSDT_HOTPLUG_LEN)
            Field (HPRG, DWordAcc, NoLock, WriteAsZeros)
            {
                PCIU, 32,
                PCID, 32,
                B0EJ, 32,
                GEVT, 32,
            }
            Method (PCEJ, 1, NotSerialized)
            {
                B0EJ = One << Arg0
            }
            Method (SNFY, 2, NotSerialized)
            {
                If (Arg0 & 0x00000002) { Notify (S01, Arg1) }
                If (Arg0 & 0x00000004) { Notify (S02, Arg1) }
                If (Arg0 & 0x00000008) { Notify (S03, Arg1) }
                If (Arg0 & 0x00000010) { Notify (S04, Arg1) }
                If (Arg0 & 0x00000020) { Notify (S05, Arg1) }
                If (Arg0 & 0x00000040) { Notify (S06, Arg1) }
                If (Arg0 & 0x00000080) { Notify (S07, Arg1) }
                If (Arg0 & 0x00000100) { Notify (S08, Arg1) }
                If (Arg0 & 0x00000200) { Notify (S09, Arg1) }
                If (Arg0 & 0x00000400) { Notify (S0A, Arg1) }
                If (Arg0 & 0x00000800) { Notify (S0B, Arg1) }
                If (Arg0 & 0x00001000) { Notify (S0C, Arg1) }
                If (Arg0 & 0x00002000) { Notify (S0D, Arg1) }
                If (Arg0 & 0x00004000) { Notify (S0E, Arg1) }
                If (Arg0 & 0x00008000) { Notify (S0F, Arg1) }
                If (Arg0 & 0x00010000) { Notify (S10, Arg1) }
                If (Arg0 & 0x00020000) { Notify (S11, Arg1) }
                If (Arg0 & 0x00040000) { Notify (S12, Arg1) }
                If (Arg0 & 0x00080000) { Notify (S13, Arg1) }
                If (Arg0 & 0x00100000) { Notify (S14, Arg1) }
                If (Arg0 & 0x00200000) { Notify (S15, Arg1) }
                If (Arg0 & 0x00400000) { Notify (S16, Arg1) }
                If (Arg0 & 0x00800000) { Notify (S17, Arg1) }
                If (Arg0 & 0x01000000) { Notify (S18, Arg1) }
                If (Arg0 & 0x02000000) { Notify (S19, Arg1) }
                If (Arg0 & 0x04000000) { Notify (S1A, Arg1) }
                If (Arg0 & 0x08000000) { Notify (S1B, Arg1) }
                If (Arg0 & 0x10000000) { Notify (S1C, Arg1) }
                If (Arg0 & 0x20000000) { Notify (S1D, Arg1) }
                If (Arg0 & 0x40000000) { Notify (S1E, Arg1) }
                If (Arg0 & 0x80000000) { Notify (S1F, Arg1) }
            }
            Method (PCNT, 0, Serialized)
            {
                SNFY (PCIU, One)
                SNFY (PCID, 3)
            }
            Device (S01) { Name (_ADR, 0x00010000) Name (_SUN, 1) Method (_EJ0, 1) { PCEJ (1) } }
            Device (S02) { Name (_ADR, 0x00020000) Name (_SUN, 2) Method (_EJ0, 1) { PCEJ (2) } }
            Device (S03) { Name (_ADR, 0x00030000) Name (_SUN, 3) Method (_EJ0, 1) { PCEJ (3) } }
            Device (S04) { Name (_ADR, 0x00040000) Name (_SUN, 4) Method (_EJ0, 1) { PCEJ (4) } }
            Device (S05) { Name (_ADR, 0x00050000) Name (_SUN, 5) Method (_EJ0, 1) { PCEJ (5) } }
            Device (S06) { Name (_ADR, 0x00060000) Name (_SUN, 6) Method (_EJ0, 1) { PCEJ (6) } }
            Device (S07) { Name (_ADR, 0x00070000) Name (_SUN, 7) Method (_EJ0, 1) { PCEJ (7) } }
            Device (S08) { Name (_ADR, 0x00080000) Name (_SUN, 8) Method (_EJ0, 1) { PCEJ (8) } }
            Device (S09) { Name (_ADR, 0x00090000) Name (_SUN, 9) Method (_EJ0, 1) { PCEJ (9) } }
            Device (S0A) { Name (_ADR, 0x000A0000) Name (_SUN, 10) Method (_EJ0, 1) { PCEJ (10) } }
            Device (S0B) { Name (_ADR, 0x000B0000) Name (_SUN, 11) Method (_EJ0, 1) { PCEJ (11) } }
            Device (S0C) { Name (_ADR, 0x000C0000) Name (_SUN, 12) Method (_EJ0, 1) { PCEJ (12) } }
            Device (S0D) { Name (_ADR, 0x000D0000) Name (_SUN, 13) Method (_EJ0, 1) { PCEJ (13) } }
            Device (S0E) { Name (_ADR, 0x000E0000) Name (_SUN, 14) Method (_EJ0, 1) { PCEJ (14) } }
            Device (S0F) { Name (_ADR, 0x000F0000) Name (_SUN, 15) Method (_EJ0, 1) { PCEJ (15) } }
            Device (S10) { Name (_ADR, 0x00100000) Name (_SUN, 16) Method (_EJ0, 1) { PCEJ (16) } }
            Device (S11) { Name (_ADR, 0x00110000) Name (_SUN, 17) Method (_EJ0, 1) { PCEJ (17) } }
            Device (S12) { Name (_ADR, 0x00120000) Name (_SUN, 18) Method (_EJ0, 1) { PCEJ (18) } }
            Device (S13) { Name (_ADR, 0x00130000) Name (_SUN, 19) Method (_EJ0, 1) { PCEJ (19) } }
            Device (S14) { Name (_ADR, 0x00140000) Name (_SUN, 20) Method (_EJ0, 1) { PCEJ (20) } }
            Device (S15) { Name (_ADR, 0x00150000) Name (_SUN, 21) Method (_EJ0, 1) { PCEJ (21) } }
            Device (S16) { Name (_ADR, 0x00160000) Name (_SUN, 22) Method (_EJ0, 1) { PCEJ (22) } }
            Device (S17) { Name (_ADR, 0x00170000) Name (_SUN, 23) Method (_EJ0, 1) { PCEJ (23) } }
            Device (S18) { Name (_ADR, 0x00180000) Name (_SUN, 24) Method (_EJ0, 1) { PCEJ (24) } }
            Device (S19) { Name (_ADR, 0x00190000) Name (_SUN, 25) Method (_EJ0, 1) { PCEJ (25) } }
            Device (S1A) { Name (_ADR, 0x001A0000) Name (_SUN, 26) Method (_EJ0, 1) { PCEJ (26) } }
            Device (S1B) { Name (_ADR, 0x001B0000) Name (_SUN, 27) Method (_EJ0, 1) { PCEJ (27) } }
            Device (S1C) { Name (_ADR, 0x001C0000) Name (_SUN, 28) Method (_EJ0, 1) { PCEJ (28) } }
            Device (S1D) { Name (_ADR, 0x001D0000) Name (_SUN, 29) Method (_EJ0, 1) { PCEJ (29) } }
            Device (S1E) { Name (_ADR, 0x001E0000) Name (_SUN, 30) Method (_EJ0, 1) { PCEJ (30) } }
            Device (S1F) { Name (_ADR, 0x001F0000) Name (_SUN, 31) Method (_EJ0, 1) { PCEJ (31) } }
            /*
             * PCI Firmware spec _OSC: no firmware here competes for PCIe
             * features, so every requested control is granted by handing
             * the capabilities buffer back unchanged.
             */
            Method (_OSC, 4, NotSerialized)
            {
                CreateDWordField (Arg3, Zero, CDW1)
                If (Arg0 != ToUUID ("33db4d5b-1ff7-401c-9657-7441c03dd766"))
                {
                    CDW1 |= 0x04    /* unrecognized UUID */
                }
                ElseIf (Arg1 != One)
                {
                    CDW1 |= 0x08    /* unrecognized revision */
                }
                Return (Arg3)
            }
        }

        /* Generic Event Device (hardware-reduced ACPI's event source): an
         * edge on DSDT_GED_IRQ; GEVT (read-to-clear) says why: bit 0 PCI
         * hotplug, bit 1 the power button. */
        Device (GED0)
        {
            Name (_HID, "ACPI0013")
            Name (_UID, Zero)
            Name (_CRS, ResourceTemplate ()
            {
                Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { DSDT_GED_IRQ }
            })
            Method (_EVT, 1, Serialized)
            {
                Local0 = \_SB.PCI0.GEVT
                If (Local0 & One)
                {
                    \_SB.PCI0.PCNT ()
                }
                If (Local0 & 2)
                {
                    Notify (\_SB.PWRB, 0x80)
                }
            }
        }

        Device (PWRB)
        {
            Name (_HID, EisaId ("PNP0C0C"))
            Name (_UID, Zero)
        }

        Device (COM1)
        {
            Name (_HID, EisaId ("PNP0501"))
            Name (_UID, One)
            Name (_CRS, ResourceTemplate ()
            {
                IO (Decode16, 0x03F8, 0x03F8, 0x00, 0x08)
                IRQNoFlags () {4}
            })
        }

        /* Motherboard resources: the ECAM window, and the sleep registers
         * so nothing else is placed on them. */
        Device (MBRD)
        {
            Name (_HID, EisaId ("PNP0C02"))
            Name (_UID, Zero)
            Name (ECMB, DSDT_MAGIC_ECAM_BASE)
            Name (ECML, DSDT_MAGIC_ECAM_SIZE)

            Name (CRS0, ResourceTemplate ()
            {
                QWordMemory (ResourceConsumer, PosDecode, MinFixed, MaxFixed,
                    NonCacheable, ReadWrite,
                    0x0000000000000000, 0x0000000000000000, 0x0000000000000000,
                    0x0000000000000000, 0x0000000000000001,,, RECM)
                IO (Decode16, 0x03C0, 0x03C0, 0x01, 0x02)
                IO (Decode16, DSDT_HOTPLUG_PORT, DSDT_HOTPLUG_PORT, 0x01, DSDT_HOTPLUG_LEN)
            })

            Method (_CRS, 0, Serialized)
            {
                CreateQWordField (CRS0, ^RECM._MIN, EMIN)
                CreateQWordField (CRS0, ^RECM._MAX, EMAX)
                CreateQWordField (CRS0, ^RECM._LEN, ELEN)

                EMIN = ECMB
                EMAX = ECMB + ECML - One
                ELEN = ECML
                Return (CRS0)
            }
        }
    }
}
