package embedded

import (
	"net"
	"time"
)

func dialOnce(ip string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, "5000"), time.Second)
	if err == nil {
		c.Close()
	}
	return c, err
}
