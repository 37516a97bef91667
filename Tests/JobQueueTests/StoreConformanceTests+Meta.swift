import Foundation
import Testing
@testable import JobQueue

// MARK: - Meta: the submitter's opaque strings

extension StoreConformanceTests {
    @Test("a job's meta is stored as given and returned with the job, its batch and each of its events", arguments: StoreKind.allCases)
    func metaTravelsWithTheJob(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            // Quotes, a backslash, non-ASCII, a newline and an empty value come back byte for byte.
            let pairs = ["upload": "42", "user.name": "Zoë \"O'Brien\" \\ 東京\nline 2", "empty": ""]
            var tagged = newJob("tagged")
            tagged.meta = try JobMeta(pairs)
            let plain = newJob("plain")
            let submitted = try await store.submit([tagged, plain]).map(\.job)
            #expect(submitted[0].meta.pairs == pairs && submitted[1].meta.isEmpty)
            #expect(try await store.job(id: submitted[0].id)?.meta.pairs == pairs)
            #expect(try await store.jobs(state: .queued, limit: 10).first { $0.id == submitted[0].id }?.meta.pairs == pairs)

            var inBatch = newJob("in batch")
            inBatch.meta = try JobMeta(["upload": "43"])
            let (batchID, batch) = try await store.submitBatch([inBatch])
            #expect(batch.first?.meta.pairs == ["upload": "43"])
            #expect(try await store.batch(id: batchID)?.first?.meta.pairs == ["upload": "43"])

            // Through a run to the end: every event of the job carries its meta; the other job's carry none.
            let claimed = try await store.claimOne("w1")
            #expect(claimed.id == submitted[0].id && claimed.meta.pairs == pairs, "a claimed job has its meta")
            #expect(try await store.complete([JobCompletion(job: claimed.lease, result: #"{"ok":true}"#)], worker: "w1") == [claimed.lease])
            let events = try await store.jobEvents(submitted[0].id)
            #expect(events.map(\.to) == ["queued", "running", "succeeded"])
            #expect(events.allSatisfy { $0.meta.pairs == pairs }, "\(events)")
            #expect(try await store.jobEvents(submitted[1].id).allSatisfy { $0.meta.isEmpty })
            #expect(try await store.events(after: 0, job: nil, limit: 100).filter { $0.jobID == submitted[0].id }
                        .allSatisfy { $0.meta.pairs == pairs })
        }
    }
}

@Suite("Job meta: what a submitter may attach, and what is refused in one line")
struct JobMetaTests {
    @Test("KEY=VALUE arguments: the value may hold '=' and be empty; keys are checked")
    func arguments() throws {
        #expect(try JobMeta(arguments: ["a=1", "b==2=", "c="]).pairs == ["a": "1", "b": "=2=", "c": ""])
        #expect(try JobMeta(arguments: []).isEmpty)
        #expect(try JobMeta(arguments: []).json == nil, "no meta is stored as NULL")
    }

    @Test("refused: no '=', a bad or long key, a key twice, a NUL, more than 32 pairs, more than 4 KiB",
          arguments: [
            (["upload"], "has no '='"),
            (["=1"], "a meta key is 1 to 64"),
            (["up load=1"], "a meta key is 1 to 64"),
            (["ü=1"], "a meta key is 1 to 64"),
            ([String(repeating: "k", count: 65) + "=1"], "a meta key is 1 to 64"),
            (["a=1", "a=2"], "given twice"),
            (["a=x\u{0}y"], "NUL"),
            ((0...32).map { "k\($0)=v" }, "at most 32"),
            (["a=" + String(repeating: "x", count: 4096)], "4096 bytes"),
          ])
    func refusals(_ arguments: [String], _ says: String) {
        #expect {
            try JobMeta(arguments: arguments)
        } throws: { error in
            "\(error)".contains(says) && !"\(error)".contains("\n")
        }
    }

    @Test("at the limits: 32 pairs, a 64-character key, 4096 bytes in all are kept")
    func atTheLimits() throws {
        #expect(try JobMeta(arguments: (1...32).map { "k\($0)=v" }).pairs.count == 32)
        let key = String(repeating: "k", count: 64)
        #expect(try JobMeta(arguments: ["\(key)=" + String(repeating: "x", count: 4096 - 64)]).pairs[key]?.count == 4032)
    }

    @Test("stored as a JSON object with sorted keys, read back the same; text that is not one reads as none")
    func storedForm() throws {
        let meta = try JobMeta(["b": "2", "a": "é/1"])
        #expect(meta.json == #"{"a":"é/1","b":"2"}"#)
        #expect(JobMeta(json: meta.json) == meta)
        #expect(JobMeta(json: "not json").isEmpty && JobMeta(json: nil).isEmpty && JobMeta(json: #"{"a":1}"#).isEmpty)
    }
}
