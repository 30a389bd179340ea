import Foundation
import XCTest
import Support
import TestSupport
@testable import Rootfs

extension Scratch {
    /// Writes a tarball with Python's tarfile, which (unlike GNU tar) stores whatever names it is given.
    func tarball(_ name: String, entries: [(name: String, text: String, uid: Int, mode: Int, mtime: Int)]) throws -> URL {
        let url = path(name)
        let list = entries.map { "(\(pythonString($0.name)), \(pythonString($0.text)), \($0.uid), \($0.mode), \($0.mtime))" }
        let script = """
            import io, sys, tarfile
            with tarfile.open(sys.argv[1], "w") as tar:
                for name, text, uid, mode, mtime in [\(list.joined(separator: ", "))]:
                    data = text.encode()
                    info = tarfile.TarInfo(name); info.size = len(data); info.uid = uid; info.gid = uid
                    info.mode = mode; info.mtime = mtime
                    tar.addfile(info, io.BytesIO(data))
            """
        try Command.run(["python3", "-c", script, url.path])
        return url
    }

    private func pythonString(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}

func attributes(_ url: URL) -> stat {
    var info = stat()
    lstat(url.path, &info)
    return info
}

final class TarballExtractionTests: XCTestCase {
    func testOwnersModesAndClampedTimesAreKept() throws {
        let scratch = try Scratch()
        let archive = try scratch.tarball("rootfs.tar", entries: [
            ("./etc/hostname", "coreos\n", 0, 0o644, 1_600_000_000),
            ("./home/core/.profile", "PS1='$ '\n", 500, 0o600, 2_000_000_000),
        ])
        let destination = scratch.path("tree")
        try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: true)
        try RootfsTree(root: destination).extract(tarball: archive, clampTo: 1_700_000_000)

        XCTAssertEqual(try String(contentsOf: destination.appendingPathComponent("etc/hostname"), encoding: .utf8), "coreos\n")
        let profile = attributes(destination.appendingPathComponent("home/core/.profile"))
        XCTAssertEqual(profile.st_uid, 500)
        XCTAssertEqual(profile.st_mode & 0o7777, 0o600)
        XCTAssertEqual(profile.st_mtim.tv_sec, 1_700_000_000, "times after the epoch are clamped")
        XCTAssertEqual(attributes(destination.appendingPathComponent("etc/hostname")).st_mtim.tv_sec, 1_600_000_000)
    }

    func testEntriesLeavingTheDestinationAreRejected() throws {
        for evil in ["../escaped", "/tmp/coresdk-absolute-\(UUID().uuidString)"] {
            let scratch = try Scratch()
            let archive = try scratch.tarball("evil.tar", entries: [(evil, "x", 0, 0o644, 0)])
            let destination = scratch.path("tree")
            try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: true)
            XCTAssertThrowsError(try RootfsTree(root: destination).extract(tarball: archive, clampTo: 0)) { error in
                XCTAssertTrue("\(error)".contains("points outside the destination"), "\(error)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.path("escaped").path))
            XCTAssertFalse(FileManager.default.fileExists(atPath: evil))
        }
    }
}

final class DebianPackageDatabaseTests: XCTestCase {
    func testOnlyInstalledPackagesAreListedSortedByName() {
        let status = """
            Package: zlib1g
            Status: install ok installed
            Architecture: amd64
            Version: 1:1.2.13.dfsg-1
            Description: compression library
             continuation line: Version: 9

            Package: bash
            Status: install ok installed
            Architecture: amd64
            Version: 5.2.15-2+b2

            Package: removed-tool
            Status: deinstall ok config-files
            Version: 1.0

            """
        XCTAssertEqual(DebianPackageDatabase.parseStatus(status), [
            InstalledPackage(name: "bash", version: "5.2.15-2+b2", architecture: "amd64"),
            InstalledPackage(name: "zlib1g", version: "1:1.2.13.dfsg-1", architecture: "amd64"),
        ])
    }
}

final class StatelessImageTests: XCTestCase {
    func testMinimalImageHasNoPackageManagerOrDocsButKeepsLicences() throws {
        let scratch = try Scratch()
        for file in ["usr/bin/dpkg", "usr/bin/apt-get", "var/lib/dpkg/status", "usr/share/man/man1/ls.1.gz",
                     "usr/share/doc/bash/copyright", "usr/share/doc/bash/changelog.gz",
                     "usr/share/locale/de/LC_MESSAGES/bash.mo", "etc/machine-id", "etc/ssh/ssh_host_ed25519_key",
                     "usr/bin/bash", "etc/ssh/sshd_config", "boot/vmlinuz-6.1.0-cloud-amd64"] {
            try scratch.write("tree/\(file)", file)
        }
        let tree = RootfsTree(root: scratch.path("tree"))
        let kernel = scratch.path("vmlinuz")
        XCTAssertEqual(try StatelessImage.takeKernel(from: tree, to: kernel), "6.1.0-cloud-amd64")
        try StatelessImage.makeMinimal(tree)
        let fm = FileManager.default
        for gone in ["usr/bin/dpkg", "usr/bin/apt-get", "var/lib/dpkg", "usr/share/man", "usr/share/doc",
                     "usr/share/locale", "etc/machine-id", "etc/ssh/ssh_host_ed25519_key", "boot/vmlinuz-6.1.0-cloud-amd64"] {
            XCTAssertFalse(fm.fileExists(atPath: tree.path(gone).path), "\(gone) must be removed")
        }
        for kept in ["usr/bin/bash", "etc/ssh/sshd_config", "usr/share/licenses/bash/copyright"] {
            XCTAssertTrue(fm.fileExists(atPath: tree.path(kept).path), "\(kept) must stay")
        }
        XCTAssertTrue(fm.fileExists(atPath: kernel.path))
    }

    func testSplitPutsUsrAsideLeavesAMountPointAndKeepsAFactoryEtc() throws {
        let scratch = try Scratch()
        try scratch.write("tree/usr/bin/bash", "bash")
        try scratch.write("tree/etc/hostname", "coreos")
        try scratch.write("tree/var/lib/systemd/.keep", "")
        let tree = RootfsTree(root: scratch.path("tree"))
        try StatelessImage.keepFactoryEtc(tree)
        try StatelessImage.split(tree, usr: scratch.path("usr"), root: scratch.path("root"))
        let fm = FileManager.default
        XCTAssertEqual(try String(contentsOf: scratch.path("usr/share/factory/etc/hostname"), encoding: .utf8), "coreos")
        XCTAssertTrue(fm.fileExists(atPath: scratch.path("usr/bin/bash").path))
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: scratch.path("root/usr").path), [])
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: scratch.path("root").path).sorted(), ["etc", "usr", "var"])
    }
}

final class RootfsTreeTests: XCTestCase {
    func testOverlayFilesBecomeRootOwnedWithModesByTheExecutableBit() throws {
        let scratch = try Scratch()
        try scratch.write("overlay/etc/motd", "hello")
        try scratch.write("overlay/usr/bin/hello", "#!/bin/sh")
        chmod(scratch.path("overlay/etc/motd").path, 0o600)
        chmod(scratch.path("overlay/usr/bin/hello").path, 0o700)
        try FileManager.default.createSymbolicLink(atPath: scratch.path("overlay/etc/issue").path, withDestinationPath: "motd")
        try scratch.write("tree/etc/motd", "old")
        let tree = RootfsTree(root: scratch.path("tree"))
        try tree.apply(overlay: scratch.path("overlay"))
        XCTAssertEqual(try String(contentsOf: tree.path("etc/motd"), encoding: .utf8), "hello")
        XCTAssertEqual(attributes(tree.path("etc/motd")).st_mode & 0o7777, 0o644)
        XCTAssertEqual(attributes(tree.path("usr/bin/hello")).st_mode & 0o7777, 0o755)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: tree.path("etc/issue").path), "motd")
    }

    func testDisabledUnitsLoseTheirLinksAndGetDisablePresets() throws {
        let scratch = try Scratch()
        let tree = RootfsTree(root: scratch.root)
        for unit in ["etcd.service", "docker.service", "docker.socket", "ssh.service"] {
            try scratch.write("usr/lib/systemd/system/\(unit)", "[Unit]\n")
        }
        let system = "etc/systemd/system"
        for (link, target) in [("multi-user.target.wants/etcd.service", "/lib/systemd/system/etcd.service"),
                               ("etcd2.service", "/lib/systemd/system/etcd.service"),
                               ("multi-user.target.wants/docker.service", "/lib/systemd/system/docker.service"),
                               ("sockets.target.requires/docker.service", "../docker.service"),
                               ("sockets.target.wants/docker.socket", "/lib/systemd/system/docker.socket"),
                               ("multi-user.target.wants/ssh.service", "/lib/systemd/system/ssh.service")] {
            try FileManager.default.createDirectory(at: scratch.path("\(system)/\(link)").deletingLastPathComponent(),
                                                    withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: scratch.path("\(system)/\(link)").path, withDestinationPath: target)
        }
        try tree.disableUnits(["etcd.service", "docker.service"])
        let exists = { (link: String) in (try? FileManager.default.destinationOfSymbolicLink(atPath: scratch.path("\(system)/\(link)").path)) != nil }
        XCTAssertFalse(exists("multi-user.target.wants/etcd.service"))
        XCTAssertFalse(exists("etcd2.service"), "aliases go too, as with systemctl disable")
        XCTAssertFalse(exists("multi-user.target.wants/docker.service"))
        XCTAssertFalse(exists("sockets.target.requires/docker.service"))
        XCTAssertTrue(exists("sockets.target.wants/docker.socket"), "other units stay enabled")
        XCTAssertTrue(exists("multi-user.target.wants/ssh.service"))
        XCTAssertEqual(try String(contentsOf: scratch.path(RootfsTree.disabledUnitsPreset), encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") }, ["disable etcd.service", "disable docker.service"],
                       "first boot's preset-all must not enable them again")
        XCTAssertThrowsError(try tree.disableUnits(["fleet.service"])) { error in
            XCTAssertTrue("\(error)".contains("no unit fleet.service"), "\(error)")
        }
    }

    func testTimestampsAreClampedIncludingSymlinksAndTheRoot() throws {
        let scratch = try Scratch()
        try scratch.write("tree/etc/hostname", "coreos")
        try FileManager.default.createSymbolicLink(atPath: scratch.path("tree/etc/link").path, withDestinationPath: "hostname")
        let tree = RootfsTree(root: scratch.path("tree"))
        try tree.clampTimestamps(to: 1_000_000)
        for path in ["", "etc", "etc/hostname", "etc/link"] {
            XCTAssertEqual(attributes(tree.path(path)).st_mtim.tv_sec, 1_000_000, "mtime of /\(path)")
        }
    }
}
