import Foundation

/// Runs commands as root of a user namespace, the way podman and mkosi build without root: uid and
/// gid 0 inside are the calling user, 1…N inside are the user's subordinate ids from /etc/subuid
/// and /etc/subgid (mapped by Debian's setuid newuidmap/newgidmap). Files the command chowns to
/// 0, 500 or 999 are then owned exactly as in a root build, seen from inside.
public struct UserNamespace: Sendable {
    /// Inside ids 1…count come from one subordinate range; 65536 covers every id Debian allocates.
    public static let requiredCount = 65536

    public struct Range: Sendable, Equatable {
        public let start: UInt32
        public let count: UInt32
    }

    public let user: String
    public let uid: uid_t
    public let gid: gid_t
    public let subordinateUIDs: Range
    public let subordinateGIDs: Range

    /// True when the process can own files as any id already (real root).
    public static var isRoot: Bool { geteuid() == 0 }

    /// The calling user's namespace, or a clear error saying what to add.
    public static func forCurrentUser(subuidFile: String = "/etc/subuid",
                                      subgidFile: String = "/etc/subgid") throws -> UserNamespace {
        let uid = geteuid(), gid = getegid()
        let name = getpwuid(uid).flatMap { String(validatingCString: $0.pointee.pw_name) } ?? String(uid)
        let uids = try range(in: subuidFile, user: name, id: UInt32(uid))
        let gids = try range(in: subgidFile, user: name, id: UInt32(uid))
        guard let uids, let gids, uids.count >= requiredCount, gids.count >= requiredCount else {
            throw SupportError("""
                user \(name) has no subordinate ids of its own: building an image without root needs \
                \(requiredCount) of them in /etc/subuid and /etc/subgid, so that files in the image can be \
                owned by root, etcd or core. Add them (as root) with \
                `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 \(name)` \
                (any free range of \(requiredCount)), and install Debian's uidmap package.
                """)
        }
        for tool in ["newuidmap", "newgidmap", "unshare"] where !Command.exists(tool) {
            throw SupportError("building an image without root needs \(tool); install Debian's uidmap and util-linux packages")
        }
        return UserNamespace(user: name, uid: uid, gid: gid, subordinateUIDs: uids, subordinateGIDs: gids)
    }

    /// The first range for `user` (by name or number) in a subid file (`name:start:count` lines).
    static func range(in file: String, user: String, id: UInt32) throws -> Range? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":").map(String.init)
            guard fields.count == 3, fields[0] == user || fields[0] == String(id),
                  let start = UInt32(fields[1]), let count = UInt32(fields[2]) else { continue }
            return Range(start: start, count: count)
        }
        return nil
    }

    /// Runs `arguments` as root of a new user namespace; standard error passes through. Throws
    /// `CommandFailure` when it exits non-zero.
    public func run(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // The shell waits on its standard input until the maps are written: only a process that
        // starts after that holds root's capabilities inside.
        process.arguments = ["unshare", "--user", "--", "/bin/sh", "-c", "read -r _ && exec \"$@\"", "sh"] + arguments
        let gate = Pipe()
        process.standardInput = gate
        process.standardError = FileHandle.standardError
        try process.run()
        do {
            try waitUntilUnshared(process.processIdentifier)
            let pid = String(process.processIdentifier)
            try Command.run(["newuidmap", pid, "0", String(uid), "1",
                             "1", String(subordinateUIDs.start), String(Self.requiredCount)])
            try Command.run(["newgidmap", pid, "0", String(gid), "1",
                             "1", String(subordinateGIDs.start), String(Self.requiredCount)])
            gate.fileHandleForWriting.write(Data("go\n".utf8))
            try gate.fileHandleForWriting.close()
        } catch {
            process.terminate()
            process.waitUntilExit()
            throw error
        }
        process.waitUntilExit()
        guard process.terminationStatus == 0, process.terminationReason == .exit else {
            throw CommandFailure(command: arguments, status: process.terminationStatus,
                                 standardError: "(in a user namespace of \(user))")
        }
    }

    /// Removes a tree that may hold files owned by subordinate ids, which the user cannot delete
    /// from outside the namespace.
    public func removeTree(_ url: URL) {
        if (try? FileManager.default.removeItem(at: url)) != nil { return }
        try? run(["rm", "-rf", "--one-file-system", url.path])
    }

    /// `unshare` execs the shell after entering the namespace; the maps can only be written then.
    private func waitUntilUnshared(_ pid: Int32) throws {
        let own = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/user")
        for _ in 0..<2000 {
            if let theirs = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/user"),
               theirs != own { return }
            usleep(5000)
        }
        throw SupportError("unshare --user did not create a user namespace within 10 s")
    }
}
