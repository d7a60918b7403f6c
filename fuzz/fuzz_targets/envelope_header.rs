//! The envelope header parser must reject any input without panicking or allocating
//! beyond its bounds; whatever it accepts must re-parse identically.
#![no_main]
use itarvault_format::UnverifiedHeader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut r = data;
    if let Ok(h) = UnverifiedHeader::read_from(&mut r) {
        let consumed = data.len() - r.len();
        assert_eq!(consumed, h.len());
        let again = UnverifiedHeader::parse(&data[..consumed]).expect("accepted header re-parses");
        assert_eq!(again.params, h.params);
    }
});
