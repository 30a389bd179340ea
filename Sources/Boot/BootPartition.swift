import Disk
@_exported import SlotLayout
import Foundation
import Support

/// The ESP's contents, as coreos-boot (the UEFI bootloader) expects them: itself at the removable
/// media path, and per slot a kernel, an initramfs and the kernel command line in `/coreos/`.
public enum BootPartition {
    public static let directory = SlotBootFiles.directory
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
                             commandLine: String, slot: UsrSlot) throws {
        let fm = FileManager.default
        let files = SlotBootFiles(slot)
        let bootloaderTarget = tree.appendingPathComponent(bootloaderPath)
        try fm.createDirectory(at: tree.appendingPathComponent(directory), withIntermediateDirectories: true)
        try fm.createDirectory(at: bootloaderTarget.deletingLastPathComponent(), withIntermediateDirectories: true)
        for (source, target) in [(bootloader, bootloaderTarget),
                                 (kernel, tree.appendingPathComponent(files.path(.kernel))),
                                 (initramfs, tree.appendingPathComponent(files.path(.initramfs)))] {
            try? fm.removeItem(at: target)
            try fm.copyItem(at: source, to: target)
        }
        try Data((commandLine + "\n").utf8).write(to: tree.appendingPathComponent(files.path(.commandLine)))
    }
}
