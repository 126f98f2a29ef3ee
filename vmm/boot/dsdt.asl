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
 * hardware-reduced sleep control register.
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
