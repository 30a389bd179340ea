import SlotLayout

/// A disk a payload is installed on: an image file (`coresdk payload apply`) or the running
/// machine's own disk (the update engine). The installer decides what is written and in which
/// order; a target only knows where things go.
public protocol InstallTarget {
    /// Throws when the disk must not be updated now (a live disk whose booted slot is itself still
    /// on trial: it would be no fallback for the new one).
    func checkReady() throws
    /// The USR slot that is not in use — the one that receives the update —, its size in bytes, and
    /// the attributes both slots have now.
    func inactiveSlot() throws -> (slot: UsrSlot, capacity: UInt64, attributes: [UsrSlot: GPTPartitionAttributes])
    /// Writes part of the new /usr, `offset` bytes into the slot's partition.
    func writeUsr(_ bytes: [UInt8], at offset: UInt64) throws
    /// Makes everything written to the slot's partition durable.
    func finishUsr() throws
    /// The one step that changes what boots: puts the slot's boot files on the ESP, then sets the
    /// slot's attributes. Until it returns, the disk boots as before.
    func activate(_ slot: UsrSlot, bootFiles: [(file: SlotBootFiles.File, bytes: [UInt8])],
                  attributes: GPTPartitionAttributes) throws
}

extension InstallTarget {
    public func checkReady() throws {}
}

/// What an installation did.
public struct InstalledUpdate: Sendable {
    public let slot: UsrSlot
    public let version: String?
    public let attributes: GPTPartitionAttributes
}

extension SlotBootFiles.File {
    /// The payload's install procedure that carries this file.
    public var procedure: InstallProcedure.Kind {
        switch self {
        case .kernel: .kernel
        case .initramfs: .initrd
        case .commandLine: .commandLine
        }
    }
}

/// Installs a payload as CoreOS's update_engine and postinst did, the same way for image files and
/// live disks: nothing is written before the signature verifies with one of `publicKeys` (there is
/// no "no key, no check"); the new /usr goes into the inactive slot and must rebuild to the
/// manifest's hash; the boot files and gptprio bits come last, so a failure anywhere before leaves
/// the disk booting what it booted.
public struct PayloadInstaller {
    public let verifier: PayloadVerifier
    public let publicKeys: [PayloadPublicKey]

    public init(payload: PayloadFile, publicKeys: [PayloadPublicKey]) {
        verifier = PayloadVerifier(payload)
        self.publicKeys = publicKeys
    }

    /// Progress is reported as bytes of the new /usr written so far, out of its size.
    public func install(into target: some InstallTarget,
                        progress: (_ written: UInt64, _ total: UInt64) -> Void = { _, _ in }) throws -> InstalledUpdate {
        let path = verifier.payload.path
        guard !publicKeys.isEmpty else { throw PayloadError(file: path, "a payload is installed only after its signature verifies, and no public key was given") }
        try target.checkReady()
        // The partition's own hash is checked below while it is written, before anything boots it.
        try verifier.verify(publicKeys: publicKeys, rebuildingPartition: false)
        let manifest = verifier.payload.manifest
        let (slot, capacity, current) = try target.inactiveSlot()
        guard let partitionInfo = manifest.newPartitionInfo, partitionInfo.size <= capacity else {
            throw PayloadError(file: path, "the new /usr (\(manifest.newPartitionInfo?.size ?? 0) bytes) does not fit \(slot.label) (\(capacity) bytes)")
        }
        // Boot files are small; rebuilding them first means a bad one is found before /usr is touched.
        var bootFiles: [(file: SlotBootFiles.File, bytes: [UInt8])] = []
        for procedure in manifest.procedures {
            guard let file = SlotBootFiles.File.allCases.first(where: { $0.procedure == procedure.type }),
                  let info = procedure.newInfo else { continue }
            bootFiles.append((file, try verifier.rebuildFile(procedure.operations, expected: info, what: file.rawValue)))
        }
        guard bootFiles.contains(where: { $0.file == .kernel }) else { throw PayloadError(file: path, "no KERNEL procedure") }

        try verifier.rebuild(manifest.partitionOperations, expected: partitionInfo, what: "the partition") { piece in
            let length = Int(min(UInt64(piece.bytes.count), partitionInfo.size - piece.offset))
            try target.writeUsr(Array(piece.bytes.prefix(length)), at: piece.offset)
            progress(piece.offset + UInt64(length), partitionInfo.size)
        }
        try target.finishUsr()
        // One try, ahead of both slots: gptprio boots it next, once, and falls back unless it is marked good.
        var attributes = current[slot] ?? GPTPartitionAttributes()
        attributes.priority = min(15, (current.values.map(\.priority).max() ?? 0) + 1)
        attributes.tries = 1
        attributes.successful = false
        try target.activate(slot, bootFiles: bootFiles, attributes: attributes)
        return InstalledUpdate(slot: slot, version: verifier.payload.osReleaseVersion, attributes: attributes)
    }
}
