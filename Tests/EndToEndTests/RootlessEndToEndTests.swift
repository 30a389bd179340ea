import Foundation
import XCTest

/// `build image`, `inject cloud-config` and `payload generate|apply` as an ordinary user with
/// subordinate ids (the test creates the user, as an administrator would): the same bytes as the
/// root build, and one clear error for a user without subordinate ids.
final class RootlessEndToEndTests: XCTestCase {
    static let user = "coresdk-e2e"
    static let userWithoutIds = "coresdk-e2e-noids"

    /// A user's own copy of everything a build reads: the tree, this Swift package (its agents are
    /// built from it) and the coresdk binary under test, in the user's home.
    nonisolated(unsafe) static var home: URL?

    func prepareUser() throws -> URL {
        if let home = Self.home { return home }
        try XCTSkipUnless(geteuid() == 0, "creating the test users needs root")
        let home = URL(fileURLWithPath: "/home/\(Self.user)")
        if (try? CoreSDKRunner.run(["id", Self.user])) == nil {
            try CoreSDKRunner.run(["useradd", "--create-home", "--shell", "/bin/bash", "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", Self.user])
        }
        if !(try String(contentsOfFile: "/etc/subuid", encoding: .utf8)).contains("\(Self.user):") {
            try CoreSDKRunner.run(["usermod", "--add-subuids", "300000-365535", "--add-subgids", "300000-365535", Self.user])
        }
        // A private home, as many distributions make them: mmdebstrap's namespace cannot pass through it.
        chmod(home.path, 0o700)
        let tree = home.appendingPathComponent("tree")
        try? FileManager.default.removeItem(at: tree)
        try FileManager.default.createDirectory(at: tree, withIntermediateDirectories: true)
        // The root build's recipes, board (with its lock, so both builds install the same versions)
        // and overlays (with its update key); this checkout's Swift package.
        let rootWorkspace = try ImageFixture.coldBuild().workspace
        for item in ["recipes", "boards", "overlays", "VERSION"] {
            try CoreSDKRunner.run(["cp", "-a", rootWorkspace.appendingPathComponent(item).path, tree.path])
        }
        for item in ["Package.swift", "Sources", "Tests"] {
            try CoreSDKRunner.run(["cp", "-a", CoreSDKRunner.packageRoot.appendingPathComponent(item).path, tree.path])
        }
        try CoreSDKRunner.run(["cp", CoreSDKRunner.binary.path, tree.appendingPathComponent("coresdk").path])
        // This machine serves SwiftPM's GitHub packages from root-owned local git repositories.
        try CoreSDKRunner.run(["runuser", "-u", Self.user, "--", "git", "config", "--global", "--replace-all", "safe.directory", "*"])
        try CoreSDKRunner.run(["chown", "-R", "\(Self.user):\(Self.user)", tree.path])
        Self.home = home
        return home
    }

    func asUser(_ arguments: [String], user: String = RootlessEndToEndTests.user) throws -> CoreSDKRunner.Run {
        let tree = URL(fileURLWithPath: "/home/\(user)/tree")
        return try CoreSDKRunner.launch(["runuser", "-u", user, "--", "env", "HOME=/home/\(user)", "SOURCE_DATE_EPOCH=1700000000",
                                         tree.appendingPathComponent("coresdk").path] + arguments,
                                        workingDirectory: URL(fileURLWithPath: "/"))
    }

    func testAnUnprivilegedBuildGivesTheRootBuildsBytes() throws {
        let rootBuild = try ImageFixture.coldBuild()
        let home = try prepareUser()
        let output = home.appendingPathComponent("out")
        let run = try asUser(["build", "image", "--repo", home.appendingPathComponent("tree").path, "--version", ImageFixture.version,
                              "--output", output.path, "--cache-dir", home.appendingPathComponent("cache").path])
        XCTAssertEqual(run.status, 0, run.standardError)
        let directory = output.appendingPathComponent("amd64-usr/\(ImageFixture.version)")
        for name in ["coreos_production_image.bin", "coreos_production_qemu_image.img", "coreos_production_update.bin"] {
            try CoreSDKRunner.run(["cmp", rootBuild.directory.appendingPathComponent(name).path, directory.appendingPathComponent(name).path])
        }
        var info = stat()
        stat(directory.appendingPathComponent("coreos_production_image.bin").path, &info)
        XCTAssertEqual(info.st_uid, try XCTUnwrap(getpwnam(Self.user)).pointee.pw_uid, "outputs belong to the user")
        // Owned as in a root build: shadow's group, core's home.
        let root = try ImageFixture.extractPartition(9, from: directory.appendingPathComponent("coreos_production_image.bin"))
        defer { try? FileManager.default.removeItem(at: root) }
        let shadow = try CoreSDKRunner.run(["debugfs", "-R", "stat /etc/shadow", root.path]).standardOutput
        XCTAssertTrue(shadow.contains("Group:    42"), shadow)
    }

    func testInjectAndPayloadRunAsAnOrdinaryUser() throws {
        let rootBuild = try ImageFixture.coldBuild()
        let home = try prepareUser()
        let work = home.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let image = work.appendingPathComponent("machine.qcow2")
        try CoreSDKRunner.run(["cp", rootBuild.directory.appendingPathComponent("coreos_production_qemu_image.img").path, image.path])
        let config = work.appendingPathComponent("cc.yml")
        try "#cloud-config\nhostname: rootless\n".write(to: config, atomically: true, encoding: .utf8)
        try CoreSDKRunner.run(["chown", "-R", "\(Self.user):\(Self.user)", work.path])

        let inject = try asUser(["inject", "cloud-config", image.path, config.path])
        XCTAssertEqual(inject.status, 0, inject.standardError)
        let key = work.appendingPathComponent("update.pem"), publicKey = work.appendingPathComponent("update.pub.pem")
        let keys = try asUser(["keys", "generate", "--private-key", key.path, "--public-key", publicKey.path])
        XCTAssertEqual(keys.status, 0, keys.standardError)
        let payload = work.appendingPathComponent("update.gz")
        let generate = try asUser(["payload", "generate", "--image", rootBuild.directory.appendingPathComponent("coreos_production_image.bin").path,
                                   "--private-key", key.path, "--output", payload.path])
        XCTAssertEqual(generate.status, 0, generate.standardError)
        let apply = try asUser(["payload", "apply", image.path, payload.path, "--public-key", publicKey.path])
        XCTAssertEqual(apply.status, 0, apply.standardError)
        let slotB = try ImageFixture.gptprio(image, 4)
        XCTAssertEqual(slotB.tries, 1)
        XCTAssertEqual(slotB.successful, 0)
        XCTAssertGreaterThan(slotB.priority, try ImageFixture.gptprio(image, 3).priority)
    }

    func testAUserWithoutSubordinateIdsGetsOneClearError() throws {
        let home = try prepareUser()
        if (try? CoreSDKRunner.run(["id", Self.userWithoutIds])) == nil {
            try CoreSDKRunner.run(["useradd", "--create-home", "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", Self.userWithoutIds])
        }
        let ownHome = URL(fileURLWithPath: "/home/\(Self.userWithoutIds)")
        try? FileManager.default.removeItem(at: ownHome.appendingPathComponent("tree"))
        try CoreSDKRunner.run(["cp", "-a", home.appendingPathComponent("tree").path, ownHome.path])
        try CoreSDKRunner.run(["chown", "-R", "\(Self.userWithoutIds):\(Self.userWithoutIds)", ownHome.appendingPathComponent("tree").path])
        let output = ownHome.appendingPathComponent("out")
        let run = try asUser(["build", "image", "--repo", ownHome.appendingPathComponent("tree").path,
                              "--output", output.path, "--json"], user: Self.userWithoutIds)
        XCTAssertNotEqual(run.status, 0)
        XCTAssertTrue(run.standardError.contains("user \(Self.userWithoutIds) has no subordinate ids of its own"), run.standardError)
        XCTAssertTrue(run.standardError.contains("usermod --add-subuids"), run.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output.appendingPathComponent("amd64-usr").path))
    }
}
