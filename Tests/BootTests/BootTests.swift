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
    }

    func testCommandLineCarriesRootPanicAndTheRootHash() {
        XCTAssertEqual(BootPartition.commandLine(board: "console=ttyS0", usrRootHash: "ff"),
                       "console=ttyS0 root=LABEL=ROOT panic=10 verity.usrhash=ff")
    }
}

final class QemuMachineTests: XCTestCase {
    func testCommandLineHasFirmwareSnapshotSSHForwardAndSerialLog() throws {
        let rootfs = try FakeRootfs()
        let image = rootfs.root.appendingPathComponent("disk.qcow2")
        try Command.run(["qemu-img", "create", "-q", "-f", "qcow2", image.path, "64M"])
        var machine = QemuMachine(image: image)
        machine.snapshot = true
        machine.sshPort = 2345
        machine.serialLog = URL(fileURLWithPath: "/tmp/serial.log")
        machine.useKVM = false
        machine.extraArguments = ["-smbios", "type=1"]
        let arguments = try machine.arguments(variables: URL(fileURLWithPath: "/tmp/vars.fd"))
        let joined = arguments.joined(separator: " ")
        XCTAssertTrue(joined.contains("-accel tcg"))
        XCTAssertTrue(joined.contains("if=pflash,format=raw,unit=0,readonly=on,file=\(QemuMachine.firmwareCode)"))
        XCTAssertTrue(joined.contains("if=pflash,format=raw,unit=1,file=/tmp/vars.fd"))
        XCTAssertTrue(joined.contains("format=qcow2,file=\(image.path),snapshot=on"))
        XCTAssertTrue(joined.contains("hostfwd=tcp:127.0.0.1:2345-:22"))
        XCTAssertTrue(joined.contains("-serial file:/tmp/serial.log"))
        XCTAssertEqual(Array(arguments.suffix(2)), ["-smbios", "type=1"])
    }

    func testGeneratedScriptStartsTheSameMachine() throws {
        let rootfs = try FakeRootfs()
        let image = rootfs.root.appendingPathComponent("coreos_production_qemu_image.img")
        try Command.run(["qemu-img", "create", "-q", "-f", "qcow2", image.path, "64M"])
        let script = rootfs.root.appendingPathComponent("coreos_production_qemu.sh")
        try Data(QemuScript.text(imageName: image.lastPathComponent).utf8).write(to: script)
        chmod(script.path, 0o755)
        let printed = try Command.run([script.path, "--dry-run", "--snapshot", "--ssh-port", "2345",
                                       "--serial-log", "/tmp/serial.log", "--link", "listen:5000",
                                       "--link", "connect:127.0.0.2:5001", "--", "-smbios", "type=1"]).text
            .split(separator: "\n").map(String.init)
        // The script copies the variable store to a temporary file; compare with that path.
        let variables = try XCTUnwrap(printed.first { $0.hasPrefix("if=pflash,format=raw,unit=1,file=") })
            .replacingOccurrences(of: "if=pflash,format=raw,unit=1,file=", with: "")
        var machine = QemuMachine(image: image)
        machine.snapshot = true
        machine.sshPort = 2345
        machine.serialLog = URL(fileURLWithPath: "/tmp/serial.log")
        machine.links = [try .init(parsing: "listen:5000"), try .init(parsing: "connect:127.0.0.2:5001")]
        machine.extraArguments = ["-smbios", "type=1"]
        XCTAssertEqual(printed, try machine.arguments(variables: URL(fileURLWithPath: variables)))
        XCTAssertFalse(FileManager.default.fileExists(atPath: variables), "the script removes its variable store")
    }

    func testLinksShareOneSecondNICThroughAHub() throws {
        let rootfs = try FakeRootfs()
        let image = rootfs.root.appendingPathComponent("disk.qcow2")
        try Command.run(["qemu-img", "create", "-q", "-f", "qcow2", image.path, "64M"])
        var machine = QemuMachine(image: image)
        machine.sshPort = 2222
        XCTAssertFalse(try machine.arguments(variables: URL(fileURLWithPath: "/tmp/v.fd")).contains("hubport,id=link,hubid=1"),
                       "no links, no second NIC")
        machine.links = [try .init(parsing: "listen:5000"), try .init(parsing: "listen:5001")]
        let arguments = try machine.arguments(variables: URL(fileURLWithPath: "/tmp/v.fd"))
        XCTAssertEqual(Array(arguments.suffix(12)), [
            "-netdev", "hubport,id=link,hubid=1", "-device", "virtio-net-pci,netdev=link,mac=52:54:00:c0:08:ae",
            "-netdev", "socket,id=link0,listen=127.0.0.1:5000", "-netdev", "hubport,id=linkport0,hubid=1,netdev=link0",
            "-netdev", "socket,id=link1,listen=127.0.0.1:5001", "-netdev", "hubport,id=linkport1,hubid=1,netdev=link1",
        ])
        machine.linkMAC = "52:54:00:00:01:01"
        XCTAssertTrue(try machine.arguments(variables: URL(fileURLWithPath: "/tmp/v.fd")).contains("virtio-net-pci,netdev=link,mac=52:54:00:00:01:01"))
        for bad in ["listen", "serve:5000", "connect:0", "connect::5000", "listen:70000", "connect:a:b:5000"] {
            XCTAssertThrowsError(try QemuMachine.Link(parsing: bad), bad)
        }
        XCTAssertTrue(QemuMachine.isMAC("52:54:00:AB:cd:01"))
        XCTAssertFalse(QemuMachine.isMAC("52:54:00:ab:cd"))
        XCTAssertFalse(QemuMachine.isMAC("52:54:00:ab:cd:0g"))
    }

    func testRawAndQcow2AreToldApartByTheirFirstBytes() throws {
        let rootfs = try FakeRootfs()
        let raw = rootfs.root.appendingPathComponent("disk.bin")
        try Data(count: 4096).write(to: raw)
        XCTAssertEqual(try QemuMachine.format(of: raw), "raw")
        XCTAssertThrowsError(try QemuMachine.format(of: rootfs.root.appendingPathComponent("missing.img")))
    }
}
