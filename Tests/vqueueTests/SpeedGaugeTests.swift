import Testing
@testable import vqueue

/// The speed `--wait` shows: media seconds done per second of waiting, over the last few seconds.
@Suite struct SpeedGaugeTests {
    @Test("nothing until a second has passed, then the rate over the last five seconds")
    func rateOverAWindow() {
        var gauge = SpeedGauge()
        gauge.add(mediaDone: 0, at: 100)
        gauge.add(mediaDone: 1, at: 100.5)
        #expect(gauge.speed == nil)
        gauge.add(mediaDone: 4, at: 102)
        #expect(gauge.speed == 2)
        // Ten seconds at 10x: the slow start has left the window.
        for second in 1...10 { gauge.add(mediaDone: 4 + Double(second) * 10, at: 102 + Double(second)) }
        #expect(gauge.speed == 10)
    }

    @Test("a retry, which starts the job over, starts the measure over instead of showing a negative speed")
    func retryStartsOver() {
        var gauge = SpeedGauge()
        gauge.add(mediaDone: 0, at: 0)
        gauge.add(mediaDone: 8, at: 2)
        gauge.add(mediaDone: 0.5, at: 3)
        #expect(gauge.speed == nil)
        gauge.add(mediaDone: 2.5, at: 4)
        #expect(gauge.speed == 2)
    }
}
