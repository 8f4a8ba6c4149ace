use crate::config::{SslMode, SslNegotiation};
use crate::tls::TlsConnect;
use crate::{Error, connect_tls};
use bytes::BytesMut;
use postgres_protocol::message::frontend;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub async fn cancel_query_raw<S, T>(
    stream: S,
    mode: SslMode,
    negotiation: SslNegotiation,
    tls: T,
    has_hostname: bool,
    process_id: i32,
    secret_key: i32,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: TlsConnect<S>,
{
    let mut stream = connect_tls::connect_tls(stream, mode, negotiation, tls, has_hostname).await?;

    let mut buf = BytesMut::new();
    frontend::cancel_request(process_id, secret_key, &mut buf);

    stream.write_all(&buf).await.map_err(Error::io)?;
    stream.flush().await.map_err(Error::io)?;

    // Wait for the server to close the connection, as libpq does: that is how it says
    // it has processed the request. Closing first (this used to shut the stream down
    // and drop it) is fine for PostgreSQL itself, but a pooler in between, such as
    // PgBouncer, may still need the connection while it opens one to the server to
    // pass the request on, and it drops the request when its client goes away. There
    // is no reply to read: end of stream, or an error once the server is gone, both
    // mean it is done.
    let mut rest = [0; 1];
    let _ = stream.read(&mut rest).await;

    Ok(())
}
