// Package pluginconn starts a plugin executable the way Plakar v1.1.4 does and
// hands back a gRPC client connection over the plugin's stdin and stdout.
//
// The plugin gets two anonymous pipes (not a socket pair): the host writes
// HTTP/2 to the plugin's fd 0 and reads the plugin's fd 1; stderr is shared.
// The client is plaintext HTTP/2 to the authority 127.0.0.1:0 with idle mode
// off, and its dialer always returns the one pipe connection, so a re-dial
// after a transport failure cannot succeed (as in Plakar).
package pluginconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// pipes joins the two pipe ends the host holds into one net.Conn.
type pipes struct {
	fromPlugin *os.File // read end of the plugin's stdout
	toPlugin   *os.File // write end of the plugin's stdin
	closeIn    sync.Once
	closeOut   sync.Once
}

var pipeAddr = &net.UnixAddr{Name: "stdio", Net: "unix"}

func (p *pipes) Read(b []byte) (int, error)  { return p.fromPlugin.Read(b) }
func (p *pipes) Write(b []byte) (int, error) { return p.toPlugin.Write(b) }
func (p *pipes) LocalAddr() net.Addr         { return pipeAddr }
func (p *pipes) RemoteAddr() net.Addr        { return pipeAddr }

// closeStdin gives the plugin EOF on its stdin; it is the only shutdown
// signal a plugin gets besides being killed.
func (p *pipes) closeStdin() {
	p.closeIn.Do(func() { _ = p.toPlugin.Close() })
}

func (p *pipes) Close() error {
	p.closeStdin()
	p.closeOut.Do(func() { _ = p.fromPlugin.Close() })
	return nil
}

func (p *pipes) SetDeadline(t time.Time) error {
	if err := p.SetReadDeadline(t); err != nil {
		return err
	}
	return p.SetWriteDeadline(t)
}
func (p *pipes) SetReadDeadline(t time.Time) error  { return p.fromPlugin.SetReadDeadline(t) }
func (p *pipes) SetWriteDeadline(t time.Time) error { return p.toPlugin.SetWriteDeadline(t) }

// Plugin is one running plugin process and the gRPC connection to it.
type Plugin struct {
	Conn *grpc.ClientConn

	cmd    *exec.Cmd
	pipes  *pipes
	cancel context.CancelFunc
	exited chan struct{}
	err    error
}

// Spawn starts exe with args (argv[0] is exe, then args, as Plakar passes a
// manifest's args) and creates the gRPC client over its pipes. extra dial
// options (interceptors) are added after the ones Plakar uses.
func Spawn(exe string, args []string, extra ...grpc.DialOption) (*Plugin, error) {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stderr = os.Stderr

	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		_ = stdin.Close()
		return nil, err
	}
	in, okIn := stdin.(*os.File)
	out, okOut := stdout.(*os.File)
	if !okIn || !okOut {
		cancel()
		_ = stdin.Close()
		_ = stdout.Close()
		return nil, errors.New("spawn: the pipes are not files")
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("spawn %s: %w", exe, err)
	}

	p := &Plugin{cmd: cmd, pipes: &pipes{fromPlugin: out, toPlugin: in}, cancel: cancel,
		exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()

	opts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithIdleTimeout(0),
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) { return p.pipes, nil }),
	}, extra...)
	cc, err := grpc.NewClient("127.0.0.1:0", opts...)
	if err != nil {
		p.Kill()
		return nil, fmt.Errorf("grpc client: %w", err)
	}
	p.Conn = cc
	return p, nil
}

// Finish closes the plugin's stdin and waits up to timeout for it to exit by
// itself. It returns the exit status (-1 if it was killed or died by a signal).
func (p *Plugin) Finish(timeout time.Duration) (int, error) {
	p.pipes.closeStdin()
	defer p.cancel()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.Kill()
		return -1, fmt.Errorf("plugin did not exit within %s of stdin EOF", timeout)
	}
	_ = p.Conn.Close()
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode(), nil
	}
	if p.err != nil {
		return -1, p.err
	}
	return 0, nil
}

// Kill ends the plugin at once (SIGKILL), as Plakar does when its context ends.
func (p *Plugin) Kill() {
	p.cancel()
	<-p.exited
	if p.Conn != nil {
		_ = p.Conn.Close()
	}
}
