import Foundation
import XCTest
import Support
@testable import Boot

/// A fake image tree with busybox, coreos-init and a small module index.
final class FakeRootfs {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("boot-\(UUID().uuidString)")
    static let kernel = "6.1.0-99-cloud-amd64"

    init(withInitFiles: Bool = true) throws {
        if withInitFiles {
            try write("usr/lib/coreos-init/init", "#!/bin/sh\necho init\n")
            try write("usr/lib/coreos-init/coreos-init-helper", "\u{7F}ELF helper")
        }
        try write("usr/bin/busybox", "\u{7F}ELF busybox")
        let modules = "usr/lib/modules/\(Self.kernel)"
        try write("\(modules)/modules.dep", """
            kernel/drivers/virtio/virtio_ring.ko:
            kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
            kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
            kernel/drivers/md/dm-mod.ko:
            kernel/drivers/md/dm-verity.ko: kernel/drivers/md/dm-bufio.ko kernel/drivers/md/dm-mod.ko
            kernel/drivers/md/dm-bufio.ko:
            kernel/sound/unrelated.ko:

            """)
        try write("\(modules)/modules.builtin", "kernel/fs/ext4/ext4.ko\n")
        for module in ["drivers/virtio/virtio_ring", "drivers/virtio/virtio", "drivers/block/virtio_blk",
                       "drivers/md/dm-mod", "drivers/md/dm-verity", "drivers/md/dm-bufio", "sound/unrelated"] {
            try write("\(modules)/kernel/\(module).ko", "module \(module)")
        }
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    func write(_ relative: String, _ text: String) throws {
        let url = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    var moduleDirectory: URL { root.appendingPathComponent("usr/lib/modules/\(Self.kernel)") }
}

final class KernelModulesTests: XCTestCase {
    func testClosurePutsDependenciesFirstAndSkipsBuiltins() throws {
        let rootfs = try FakeRootfs()
        let index = try KernelModules(directory: rootfs.moduleDirectory)
        let names = try index.closure(of: ["virtio_blk", "ext4", "dm-verity"]).map(\.name)
        XCTAssertEqual(names, ["virtio_ring", "virtio", "virtio_blk", "dm_bufio", "dm_mod", "dm_verity"])
    }

    func testUnknownModuleIsAnError() throws {
        let rootfs = try FakeRootfs()
        XCTAssertThrowsError(try KernelModules(directory: rootfs.moduleDirectory).closure(of: ["virtio_gpu"])) {
            XCTAssertEqual("\($0)", "kernel module 'virtio_gpu' is neither a module nor built into the kernel "
                           + "(\(FakeRootfs.kernel)); check 'initramfs-modules' in the board")
        }
    }
}

final class InitramfsTests: XCTestCase {
    func listing(_ archive: URL) throws -> [String] {
        let script = "zstd -dc '\(archive.path)' | cpio -itv --quiet"
        return try Command.run(["sh", "-c", script], environment: ["TZ": "UTC"]).text
            .split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
    }

    func testArchiveHoldsInitBusyboxModulesAndAConsoleNode() throws {
        let rootfs = try FakeRootfs()
        let output = rootfs.root.appendingPathComponent("initrd.img")
        let loaded = try Initramfs(rootfs: rootfs.root, kernelVersion: FakeRootfs.kernel, modules: ["virtio_blk"])
            .write(to: output, clock: BuildClock(epoch: 1_700_000_000))
        XCTAssertEqual(loaded, ["virtio_ring", "virtio", "virtio_blk"])
        let lines = try listing(output)
        func line(_ path: String) -> String? { lines.first { $0.hasSuffix(" \(path)") || $0.contains(" \(path) -> ") } }
        XCTAssertEqual(line("init")?.prefix(20), "-rwxr-xr-x 1 root ro")
        XCTAssertTrue(line("dev/console")?.hasPrefix("crw------- 1 root root 5, 1") ?? false, "\(lines)")
        XCTAssertNotNil(line("bin/sh"), "bin/sh -> busybox")
        XCTAssertNotNil(line("lib/modules/\(FakeRootfs.kernel)/kernel/drivers/block/virtio_blk.ko"))
        XCTAssertNil(line("lib/modules/\(FakeRootfs.kernel)/kernel/sound/unrelated.ko"), "only needed modules")
        XCTAssertTrue(lines.allSatisfy { $0.contains("Nov 14 2023") }, "every member carries the build's time")

        let dep = try Command.run(["sh", "-c", "zstd -dc '\(output.path)' | cpio -i --quiet --to-stdout lib/modules/\(FakeRootfs.kernel)/modules.dep"]).text
        XCTAssertEqual(dep, """
            kernel/drivers/virtio/virtio_ring.ko:
            kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
            kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko

            """)
    }

    func testSameInputsGiveTheSameBytes() throws {
        let rootfs = try FakeRootfs()
        let builder = Initramfs(rootfs: rootfs.root, kernelVersion: FakeRootfs.kernel, modules: ["dm_verity"])
        let first = rootfs.root.appendingPathComponent("one.img"), second = rootfs.root.appendingPathComponent("two.img")
        try builder.write(to: first, clock: BuildClock(epoch: 5))
        try builder.write(to: second, clock: BuildClock(epoch: 5))
        XCTAssertEqual(try Data(contentsOf: first), try Data(contentsOf: second))
    }

    func testMissingInitNamesTheRecipeAndWritesNothing() throws {
        let rootfs = try FakeRootfs(withInitFiles: false)
        let output = rootfs.root.appendingPathComponent("initrd.img")
        XCTAssertThrowsError(try Initramfs(rootfs: rootfs.root, kernelVersion: FakeRootfs.kernel, modules: [])
            .write(to: output, clock: BuildClock(epoch: 5))) {
            XCTAssertEqual("\($0)", "the image has no /usr/lib/coreos-init/init, which the initramfs needs; add coreos-init to the board's recipes")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: output.path))
    }
}

final class BootPartitionTests: XCTestCase {
    func testSlotFilesAndBootloaderAreWhereCoreosBootLooks() throws {
        let rootfs = try FakeRootfs()
        let tree = rootfs.root.appendingPathComponent("esp")
        let input = { (name: String) throws -> URL in
            let url = rootfs.root.appendingPathComponent(name)
            try Data(name.utf8).write(to: url)
            return url
        }
        try BootPartition.stage(into: tree, bootloader: try input("boot.efi"), kernel: try input("vmlinuz"),
                                initramfs: try input("initrd"), commandLine: "console=ttyS0 verity.usrhash=ab",
                                slot: .a)
        func read(_ path: String) throws -> String {
            try String(contentsOf: tree.appendingPathComponent(path), encoding: .utf8)
        }
        XCTAssertEqual(try read("EFI/BOOT/BOOTX64.EFI"), "boot.efi")
        XCTAssertEqual(try read("coreos/vmlinuz-a"), "vmlinuz")
        XCTAssertEqual(try read("coreos/initrd-a"), "initrd")
        XCTAssertEqual(try read("coreos/cmdline-a"), "console=ttyS0 verity.usrhash=ab\n")
        // The paths are coreos-boot's (boot.c), so they are spelled out here rather than derived.
        XCTAssertEqual(SlotBootFiles.File.allCases.map(SlotBootFiles(.b).path),
                       ["coreos/vmlinuz-b", "coreos/initrd-b", "coreos/cmdline-b"])
    }

    func testCommandLineCarriesRootPanicAndTheRootHash() {
        XCTAssertEqual(BootPartition.commandLine(board: "console=ttyS0", usrRootHash: "ff"),
                       "console=ttyS0 root=LABEL=ROOT panic=10 verity.usrhash=ff")
    }
}
