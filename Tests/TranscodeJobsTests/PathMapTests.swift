import Testing
import Transcode
@testable import TranscodeJobs

@Suite struct PathMapTests {
    @Test(arguments: [
        ("/srv/video/in.avi", "/mnt/video/in.avi"),
        ("/srv/video", "/mnt/video"),
        ("/srv/video/uploads/a b.mp4", "/mnt/uploads/a b.mp4"),   // the longest FROM wins
        ("/srv/videos/in.avi", "/srv/videos/in.avi"),           // whole components only
        ("/home/in.avi", "/home/in.avi"),                       // under no FROM: as it was
    ])
    func mapsWholeComponentPrefixes(path: String, mapped: String) throws {
        let map = try PathMap(["/srv/video=/mnt/video/", "/srv/video/uploads=/mnt/uploads"])
        #expect(map.map(path) == mapped)
    }

    @Test(arguments: ["/srv/video", "srv=/mnt", "/srv=mnt", "=/mnt"])
    func refusesWhatIsNotTwoAbsoluteFolders(item: String) {
        #expect(throws: (any Error).self) { try PathMap([item]) }
    }

    @Test func mapsAJobsInputAndOutput() throws {
        let job = TranscodeJob(input: "/srv/video/in.avi", output: "/srv/video/out.flv", options: .init(), overwrite: false)
        let mapped = job.mapped(by: try PathMap(["/srv/video=/mnt/v"]))
        #expect(mapped.input == "/mnt/v/in.avi" && mapped.output == "/mnt/v/out.flv")
    }
}
