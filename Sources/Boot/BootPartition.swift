import Foundation
import Support

/// An A/B slot: USR-A boots `vmlinuz-a` with `initrd-a` and `cmdline-a`, USR-B the `-b` files.
public enum BootSlot: String, Sendable, CaseIterable {
    case a, b
}

/// The ESP's contents, as coreos-boot (the UEFI bootloader) expects them: itself at the removable
/// media path, and per slot a kernel, an initramfs and the kernel command line in `/coreos/`.
public enum BootPartition {
    /// The ESP directory of the slot files; fixed, because the bootloader looks there.
    public static let directory = "coreos"
    public static let bootloaderPath = "EFI/BOOT/BOOTX64.EFI"
    /// Where the coreos-boot recipe installs the bootloader inside the image.
    public static let bootloaderInImage = "usr/lib/coreos-boot/bootx64.efi"

    /// The command line of a slot: the board's, then what the initramfs needs. A kernel panic
    /// reboots, so a slot that cannot boot falls back to the other without a person at the console.
    public static func commandLine(board: String, usrRootHash: String) -> String {
        [board, "root=LABEL=ROOT", "panic=10", "verity.usrhash=\(usrRootHash)"]
            .filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// Lays out the ESP tree at `tree` for `slot`; the tree becomes the FAT filesystem.
    public static func stage(into tree: URL, bootloader: URL, kernel: URL, initramfs: URL,
                             commandLine: String, slot: BootSlot) throws {
        let fm = FileManager.default
        let slotDirectory = tree.appendingPathComponent(directory)
        let bootloaderTarget = tree.appendingPathComponent(bootloaderPath)
        try fm.createDirectory(at: slotDirectory, withIntermediateDirectories: true)
        try fm.createDirectory(at: bootloaderTarget.deletingLastPathComponent(), withIntermediateDirectories: true)
        for (source, target) in [(bootloader, bootloaderTarget),
                                 (kernel, slotDirectory.appendingPathComponent("vmlinuz-\(slot.rawValue)")),
                                 (initramfs, slotDirectory.appendingPathComponent("initrd-\(slot.rawValue)"))] {
            try? fm.removeItem(at: target)
            try fm.copyItem(at: source, to: target)
        }
        try Data((commandLine + "\n").utf8).write(to: slotDirectory.appendingPathComponent("cmdline-\(slot.rawValue)"))
    }
}
